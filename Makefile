# The product's two front doors: `make run` starts the whole system on a fresh
# machine (creating the virtual environment first), `make test` runs the whole
# suite: lint, format check, strict type check, then the tests.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
RUNTIME_STAMP := $(VENV)/.runtime-installed
DEV_STAMP := $(VENV)/.dev-installed

.PHONY: run test lint typecheck install clean bench-smoke

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(RUNTIME_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(DEV_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $@ $(RUNTIME_STAMP)

install: $(RUNTIME_STAMP)

run: $(RUNTIME_STAMP)
	$(BIN)/python devstack.py

lint: $(DEV_STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(DEV_STAMP)
	$(BIN)/mypy

# The suite spends most of its time waiting (on real processes, Temporal, sleeps
# that cross a fire), so more workers than cores overlap those waits. Each worker
# holds its own stacks, apps and databases; loadfile keeps a module on one worker
# (its module-scoped stack is started once). PYTEST_WORKERS=0 runs in one process.
PYTEST_WORKERS ?= 3

test: lint typecheck
	$(BIN)/pytest -n $(PYTEST_WORKERS) --dist loadfile

# Every benchmark once at a tiny size (bench/README.md has the real commands).
bench-smoke: $(DEV_STAMP)
	$(BIN)/python -m bench.smoke

clean:
	rm -rf $(VENV) .data .mypy_cache .ruff_cache .pytest_cache
