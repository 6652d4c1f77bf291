"""Allow ``python -m distrib``."""

from distrib.cli import main

main()
