"""What a worker process runs beside its Temporal workers: the registry heartbeat."""
