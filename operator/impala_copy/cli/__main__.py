"""`python -m impala_copy.cli`: the same as the `impala-copy` command."""

from impala_copy.cli.app import main

main()
