"""``python -m ktwidget``: the operator CLI."""

from ktwidget.cli.main import main

main()
