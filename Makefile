# Every target sets up .venv itself: `make demo` and `make test` work on a fresh machine.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
EXTRAS ?= test,ray,mlflow,wandb

.PHONY: setup test lint gen demo bench docs clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(STAMP): $(PY) setup.cfg pyproject.toml
	$(PY) -m pip install --quiet -e '.[$(EXTRAS)]'
	touch $(STAMP)

setup: $(STAMP)

# ruff, then mypy (strict on the core, lenient elsewhere: pyproject.toml), then the suite with the doctests.
test: lint
	$(PY) -m pytest -q $(PYTEST_ARGS)

lint: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m mypy composer_sched

# Regenerates the checked-in files derived from the method registry (tests/test_generated.py fails when stale).
gen: $(STAMP)
	$(PY) -m tools.gen

demo: $(STAMP)
	$(VENV)/bin/composer-sched demo

bench: $(STAMP)
	$(PY) -m benchmarks

docs: $(STAMP)
	$(PY) -m composer_sched.docs

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache
