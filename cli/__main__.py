"""``python -m cli``: the same as the ``ddbload`` console script."""

from cli.main import main

main()
