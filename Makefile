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

# The main job: race every registered strategy on sunspots / rnn-macro, 3 seeds, 50 CPU-seconds of
# evaluation per run (about 8 minutes on 2 free cores); prints the table, writes report/report.html.
# darts spends about 20 of its 50 CPU-seconds on 6 supernet epochs (its default 20 would not fit).
# Run again, it keeps what is finished (an interrupted race resumes); `rm -rf report` starts over.
RACE_BUDGET ?= --cpu-seconds 50 --seeds 3 --max-epochs 30 --patience 5 --option darts.epochs=6
run: $(BIN)/.installed
	$(BIN)/seqnas compare --task sunspots --space rnn-macro --strategies all $(RACE_BUDGET) --out report

test: $(BIN)/.installed
	$(BIN)/python -m pytest -q

lint: $(BIN)/.installed
	$(BIN)/ruff check seqnas tests bench
	$(BIN)/mypy seqnas

clean:
	rm -rf $(VENV) .pytest_cache seqnas-main.db* report
