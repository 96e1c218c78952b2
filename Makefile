# The two set-up commands of the README: `make run` (the main job) and `make test` (the suite).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: run race-args test mutants-critical lint bench bench-peer bench-forecasters clean

$(BIN)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $@

# The main job: race every registered strategy on sunspots / rnn-macro, 5 seeds, 50 CPU-seconds per
# run in all (one budget: 30 of search, then each run's top 3 retrained 3 times within the other 20;
# the best by retrained validation MSE is its selection); baselines beside them. Prints the table, writes
# report/report.html. darts spends 13-20 of its CPU-seconds on 4 supernet epochs (its default 20
# would not fit; at 6 a busy machine's supernet alone used more than the budget). bench/replication.py runs this same race (`make race-args`) twice with
# disjoint seeds. Run again, it keeps what is finished; `rm -rf report` starts over.
RACE_ARGS ?= --task sunspots --space rnn-macro --strategies all --cpu-seconds 50 --max-epochs 30 --patience 5 \
             --option darts.epochs=4 --final-repeats 3
RACE_SEEDS ?= 5
run: $(BIN)/.installed
	$(BIN)/seqnas compare $(RACE_ARGS) --seeds $(RACE_SEEDS) --out report

race-args:
	@echo $(RACE_ARGS)

test: $(BIN)/.installed
	$(BIN)/python -m pytest -q

# The curated critical mutants (tests/mutants/critical.py): each must make its focused tests fail (CI runs it).
mutants-critical: $(BIN)/.installed
	$(BIN)/python tests/mutants/run.py

lint: $(BIN)/.installed
	$(BIN)/ruff check seqnas tests bench
	$(BIN)/mypy seqnas

# The peer bench (bench/peer.py): NeuralForecast's AutoLSTM in its own venv, never a seqnas dependency.
PEER_VENV := bench/.peer-venv
$(PEER_VENV)/.installed:
	test -x $(PEER_VENV)/bin/python || $(PYTHON) -m venv $(PEER_VENV)
	$(PEER_VENV)/bin/pip install --quiet torch==2.13.0
	$(PEER_VENV)/bin/pip install --quiet neuralforecast==3.3.0
	touch $@

bench-peer: $(BIN)/.installed $(PEER_VENV)/.installed
	$(BIN)/python bench/peer.py

# The forecasters bench (bench/forecasters.py): seqnas's default command and its export against statsforecast,
# mlforecast/LightGBM and ridge on the same test rows; its extra libraries go into .venv (the "bench" extra).
bench-forecasters: $(BIN)/.installed
	$(BIN)/pip install --quiet -e ".[bench]"
	$(BIN)/python bench/forecasters.py

clean:
	rm -rf $(VENV) .pytest_cache seqnas-main.db* report
