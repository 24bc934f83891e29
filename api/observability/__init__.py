"""What an operator sees of the API: request ids, request logs and Prometheus metrics."""
