"""distrib's benchmarks: ``make bench`` (= ``.venv/bin/python -m bench``) runs the harness
(`bench.harness`); the scripts beside it measure one stage each."""
