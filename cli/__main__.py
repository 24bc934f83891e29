"""``python -m cli``: the same as the ``scheduler`` console script."""

from cli.app import main

main()
