"""`python -m visempar` is the `visempar` command."""

from visempar.cli import main

main()
