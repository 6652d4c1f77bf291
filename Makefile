# distrib — two commands on a fresh machine:
#   make demo   set up, start the local capture server, send two releases of the example
#               workspace (the second to one beat, honouring an opt-out), show the report
#   make test   set up, then lint, type-check and run the whole test suite
# Both create .venv with python3 and install distrib into it (editable) with its dev tools.

PYTHON ?= python3
# make demo PORT=2626: the demo's capture server listens there (default 2525).
PORT   ?= 2525
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: all demo test lint types pytest fuzz system-deps bench clean

all: test

# The packages are installed by uv (from PyPI, into the venv, by pip): 8 to 15 s here against
# 64 to 70 s for pip, which spent most of that compiling every installed file to bytecode.
# Python compiles what is imported when it is imported.
$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --no-compile --disable-pip-version-check 'uv>=0.9,<1'
	$(BIN)/uv pip install --quiet --python $(BIN)/python -e '.[dev]'
	@touch $(STAMP)

system-deps:
	@./scripts/install-system-deps.sh

demo: $(STAMP)
	@PORT=$(PORT) ./scripts/demo.sh

lint: $(STAMP)
	$(BIN)/ruff check src tests $(wildcard bench)
	$(BIN)/ruff format --check src tests $(wildcard bench)

types: $(STAMP)
	$(BIN)/mypy src

# Twice as many test processes as cores: many tests wait on subprocesses, servers and a browser
# (measured here, 2 cores: 6 min 47 s with 4 processes against 8 min 4 s with 2).  Each process
# asks for one test at a time (--maxschedchunk 1) and the longest start first (tests/conftest.py),
# so no process is left running long tests while the others idle.  PYTHONDONTWRITEBYTECODE is
# emptied for the run: where it is set, every test process re-rewrote the tests' assertions
# and every `distrib` the tests start recompiled distrib's source (docs/DEVELOPING.md).
PYTEST_WORKERS ?= $(shell echo $$(( $$(nproc) * 2 )))

pytest: $(STAMP) system-deps
	PYTHONDONTWRITEBYTECODE= $(BIN)/pytest -n $(PYTEST_WORKERS) --maxschedchunk 1

test: lint types pytest

# Property tests with fresh random examples, and the seeded corpora at full size (make test runs
# a fixed, smaller set).
fuzz: $(STAMP)
	HYPOTHESIS_PROFILE=explore $(BIN)/pytest -q -m "not slow" $$(grep -l -e "@given" -e "corpus_size(" tests/*.py)

bench: $(STAMP)
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) demo-out demo-out.next .pytest_cache .mypy_cache .ruff_cache
