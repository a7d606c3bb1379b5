# make demo  - create .venv, install, run the end-to-end example
# make test  - create .venv, install with [test], run the whole suite (unit, integration, notebooks)
# make bench - run the benchmarks (ratios against the bare libraries)
# make mutation - mutation score of the modules where a silent bug costs most (mutmut; not part of
#                 make test); MODULES="ids artifacts" picks groups of benchmarks/mutation.py,
#                 SINCE=main tests only the functions changed since that git revision
# Installs are pinned by constraints.txt (make constraints refreshes it from .venv).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
NBVAL  := --nbval --nbval-current-env --nbval-sanitize-with notebooks/nbval_sanitize.cfg

.PHONY: demo test bench mutation constraints clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed-demo: pyproject.toml constraints.txt | $(BIN)/python
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[notebook]'
	touch $@

$(VENV)/.installed-test: pyproject.toml constraints.txt | $(BIN)/python
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[test]'
	touch $@ $(VENV)/.installed-demo

demo: $(VENV)/.installed-demo
	$(BIN)/python -m jupyter_modelservice.demo

test: $(VENV)/.installed-test
	$(BIN)/python -m ruff check jupyter_modelservice tests benchmarks notebooks/execute.py
	$(BIN)/python -m mypy
	MPLBACKEND=Agg $(BIN)/python -m pytest $(NBVAL) tests $(wildcard notebooks/*.ipynb)

bench: $(VENV)/.installed-test
	$(BIN)/python -m benchmarks

mutation: $(VENV)/.installed-test
	$(BIN)/python -m benchmarks.mutation $(if $(SINCE),--since $(SINCE)) $(MODULES)

constraints: $(VENV)/.installed-test
	(head -n 2 constraints.txt; $(BIN)/python -m pip freeze --exclude-editable) > constraints.new
	mv constraints.new constraints.txt

clean:
	rm -rf $(VENV) .pytest_cache demo_models mutants
