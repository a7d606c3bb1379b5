# make demo  - create .venv, install, run the end-to-end example
# make test  - create .venv, install with [test], run the whole suite (unit, integration, notebooks)
# make bench - run the benchmarks (ratios against the bare libraries)
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
NBVAL  := --nbval --nbval-current-env --nbval-sanitize-with notebooks/nbval_sanitize.cfg

.PHONY: demo test bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed-demo: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[notebook]'
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@ $(VENV)/.installed-demo

demo: $(VENV)/.installed-demo
	$(BIN)/python -m jupyter_modelservice.demo

test: $(VENV)/.installed-test
	$(BIN)/python -m ruff check jupyter_modelservice tests benchmarks notebooks/execute.py
	MPLBACKEND=Agg $(BIN)/python -m pytest $(NBVAL) tests $(wildcard notebooks/*.ipynb)

bench: $(VENV)/.installed-test
	$(BIN)/python -m benchmarks

clean:
	rm -rf $(VENV) .pytest_cache demo_models
