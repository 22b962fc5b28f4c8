"""``python -m nunchi.cli``: the ``nunchi`` command."""

from nunchi.cli import main

main()
