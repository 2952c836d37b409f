# Setup, demo, tests and benchmarks; every target creates the virtual environment first.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: setup demo test lint bench clean

$(BIN)/cablearchive: pyproject.toml
	$(PY) -m venv $(VENV)
	# pip 23.2 mis-resolves lxml's extras: upgrade pip inside the venv first.
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(BIN)/cablearchive

setup: $(BIN)/cablearchive

demo: setup
	$(BIN)/cablearchive demo

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	# Types: mypy in its default mode over cleaners, archive and crawler (pyproject [tool.mypy]).
	$(BIN)/mypy

test: setup lint
	$(BIN)/python -m pytest -q

bench: setup
	$(BIN)/python benchmarks/run_all.py

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache .ruff_cache
