"""One module per command group; each defines its own ``cyclopts.App``."""
