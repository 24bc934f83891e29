"""The vocabulary every layer shares: statuses, task definitions, parameter schemas.

Imports nothing of ours, so ``api``, ``persistence``, ``workflows`` and
``activities`` can all depend on it without depending on each other.
"""
