"""The OpenAPI document at ``/schema``: what the API serves, described by what serves it."""
