"""Allow ``python -m quartier``."""

from quartier.cli import main

main()
