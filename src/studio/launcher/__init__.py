"""Starting Studio: the embedded or an external database, secrets, process credentials."""
