"""``scheduler``: the command line of the task scheduler, a client of its REST API only.

It imports nothing of the server (``api/``, ``persistence/``, ``workflows/``):
everything it knows about tasks and runs it reads from the API's answers.
"""
