"""HTTP plumbing shared by every domain: errors, responses, the request guard, dependencies."""
