# Two commands do all set-up on a fresh machine:
#   make demo   - quick end-to-end reproduction (creates .venv if missing)
#   make test   - the test suite (creates .venv if missing)
#   make docs   - the documentation site, built offline into site/ (warnings are errors)
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test lint bench docs venv clean

venv: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --upgrade pip >/dev/null
	$(PY) -m pip install -c constraints.txt torch==2.13.0
	$(PY) -m pip install -c constraints.txt -e ".[dev,all]"
	touch $(STAMP)

demo: $(STAMP)
	NUMBA_CACHE_DIR=$(CURDIR)/.numba_cache $(VENV)/bin/wirelessrl reproduce d2d --scale quick \
		--threads 1 -o runs/demo

test: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports
	OPENBLAS_NUM_THREADS=1 NUMBA_CACHE_DIR=$(CURDIR)/.numba_cache $(PY) -m pytest

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports

bench: $(STAMP)
	NUMBA_CACHE_DIR=$(CURDIR)/.numba_cache $(PY) benchmarks/bench_simulators.py
	NUMBA_CACHE_DIR=$(CURDIR)/.numba_cache $(PY) benchmarks/bench_miso.py
	OPENBLAS_NUM_THREADS=1 NUMBA_CACHE_DIR=$(CURDIR)/.numba_cache $(PY) benchmarks/bench_solvers.py

docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict --site-dir site
	@echo "open site/index.html"

clean:
	rm -rf $(VENV) .numba_cache runs site
