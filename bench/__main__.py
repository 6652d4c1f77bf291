"""`make bench` = ``.venv/bin/python -m bench``: see `bench.harness`."""

from bench.harness import main

main()
