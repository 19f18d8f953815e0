"""Usage records (api_usage): what each generation cost, appended by workers."""
