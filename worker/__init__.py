"""A worker process's wiring: the orchestrator's Temporal worker and reconciler, the
executor workers of the task types it serves, and its row in the worker registry."""
