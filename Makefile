# The two set-up commands of the README: `make run` (the main job) and `make test` (the suite).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: run test lint bench clean

$(BIN)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $@

run: $(BIN)/.installed
	$(BIN)/seqnas search --task sunspots --space rnn-macro --strategy random --trials 30 --seed 0 --study main --db seqnas-main.db

test: $(BIN)/.installed
	$(BIN)/python -m pytest -q

lint: $(BIN)/.installed
	$(BIN)/ruff check seqnas tests bench
	$(BIN)/mypy seqnas

clean:
	rm -rf $(VENV) .pytest_cache seqnas-main.db*
