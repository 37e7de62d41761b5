# The single entry point: `make run`, `make test`, `make stop` (see README.md).
.PHONY: run test stop setup lint typecheck format loadtest bench chaos

run:
	@deploy/local/run.sh

stop:
	@deploy/local/stop.sh

setup:
	@deploy/local/setup.sh

test: setup
	.venv/bin/python -m pytest -q

lint: setup
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .

typecheck: setup
	.venv/bin/mypy .

format: setup
	.venv/bin/ruff format .
	.venv/bin/ruff check --fix .

# Locust against the stack `make run` started: RATE msg/s (default 500) for DURATION s (default 60).
RATE ?= 500
DURATION ?= 60
CHANNELS ?=  # empty: every channel, in loadtests/channel_mix.py's mix
loadtest: setup
	.venv/bin/python -m loadtests.run --rate $(RATE) --duration $(DURATION) --channels "$(CHANNELS)"

# Step the rate up until the pipeline stops keeping up; a bare endpoint gives the machine's ceiling.
bench: setup
	.venv/bin/python -m loadtests.bench

# Fault scenarios under load against the stack `make run` started (loadtests/chaos.py): SCENARIOS a comma
# list (default all; `python -m loadtests.chaos --list`), RATE msg/s (default 120, what this machine
# sustains with everything on it), DURATION s of load after each fault (default 30).
SCENARIOS ?=
chaos: setup
	.venv/bin/python -m loadtests.chaos --scenarios "$(SCENARIOS)" \
	  --rate $(if $(filter command line environment,$(origin RATE)),$(RATE),120) \
	  --duration $(if $(filter command line environment,$(origin DURATION)),$(DURATION),30)
