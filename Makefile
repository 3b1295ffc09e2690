# Every target sets up .venv itself: `make demo` and `make test` work on a fresh machine.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
EXTRAS ?= test,ray,slurm,mlflow,wandb,peers

.PHONY: setup test lint gen demo bench docs clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(STAMP): $(PY) setup.cfg pyproject.toml
	$(PY) -m pip install --quiet -e '.[$(EXTRAS)]'
	touch $(STAMP)

setup: $(STAMP)

# pytest-xdist workers for `make test` (2: the cores of the machine the suite's time budget is set on; 0 runs the
# suite in this process, e.g. `make test PYTEST_WORKERS=0 PYTEST_ARGS='-x tests/cli'` to debug one test).
PYTEST_WORKERS ?= 2

# ruff, then mypy (strict on the core, lenient elsewhere: pyproject.toml) beside the suite with the doctests, in
# parallel (worksteal: a worker that runs out takes tests queued on the other, so the long multi-process tests do not
# end up one after another on one worker). mypy runs in the background while the tests run: the suite leaves about a
# fifth of the cores idle (its tests wait on launchers, Slurm and Ray), which is what a cold mypy needs; its report
# is printed after the tests', and either failing fails the target. A run that collects no test (pytest's exit code
# 5, e.g. a PYTEST_ARGS that selects nothing) fails like a failing test. One BLAS/OpenMP thread per process (unless
# set): the workers already fill the cores, and a 2-thread OpenBLAS on a busy core made the predict fits' thousands
# of tiny calls several times slower.
test: $(STAMP)
	$(PY) -m ruff check .
	@types=$$(mktemp); \
	$(PY) -m mypy composer_sched >$$types 2>&1 & mypy=$$!; \
	OMP_NUM_THREADS=$${OMP_NUM_THREADS:-1} $(PY) -m pytest -q -n $(PYTEST_WORKERS) --dist worksteal $(PYTEST_ARGS); \
	tests=$$?; wait $$mypy; typed=$$?; echo "mypy composer_sched:"; cat $$types; rm -f $$types; \
	[ $$tests = 0 ] && [ $$typed = 0 ]

lint: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m mypy composer_sched

# Regenerates the checked-in files derived from the method registry (tests/test_generated.py fails when stale), and
# the catalog `composer-sched list` reads to answer without torch (tests/cli/test_cli_start.py fails when stale).
gen: $(STAMP)
	$(PY) -m tools.gen
	$(PY) -m composer_sched.cli._catalog

demo: $(STAMP)
	$(VENV)/bin/composer-sched demo

bench: $(STAMP)
	$(PY) -m benchmarks

# One docs generator: the method pages are written (and checked) by make gen.
docs: gen

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache
