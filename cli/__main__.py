"""``python -m loaders``: the same CLI as the ``ddbload`` console script."""

from loaders.cli import main

main()
