# The two commands of the quick start: `make run` and `make test`. Each makes .venv and installs what it needs.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint bench mutate deps clean

$(STAMP): pyproject.toml
	@sh scripts/system-deps.sh
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install -q --disable-pip-version-check -e '.[dev]'
	@touch $(STAMP)

deps: $(STAMP)

# The main job, on the built-in simulated lab when there is no hardware.
run: $(STAMP)
	@BIN=$(BIN) sh scripts/run-lab.sh

# The suite mostly waits on peers (I/O): one worker per core, at least 2 and at most 4
# (TEST_WORKERS=0 runs it in this one process).
TEST_WORKERS ?= $(shell n=$$(nproc 2>/dev/null || echo 2); [ $$n -lt 2 ] && n=2; [ $$n -gt 4 ] && n=4; echo $$n)

# The slowest tests are listed at the end, so a CI log shows where the suite's time goes.
test: $(STAMP)
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadgroup --durations=25 $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check harness tests bench suites scripts
	$(BIN)/mypy harness

bench: $(STAMP)
	$(BIN)/python bench/transports.py

# Mutation testing of the pure core (mutmut): a score per module and the survivors; not part of `test`.
mutate: $(STAMP)
	$(BIN)/python scripts/mutate.py $(MUTATE_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .mutate
