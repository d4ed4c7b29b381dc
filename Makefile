# Two commands do all the set-up on a fresh machine:
#   make sweep SPACE=runners_only   # install, then run a sweep
#   make test                       # install, then run the tests (what CI runs)
PYTHON ?= python3
VENV ?= .venv
SPACE ?= runners_only
ARGS ?=
BIN = $(VENV)/bin

$(BIN)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -c constraints.txt -e ".[dev]"
	touch $@

install: $(BIN)/.installed

sweep: install
	$(BIN)/python -m parallel_tune.sweep --space $(SPACE) $(ARGS)

test: install
	$(BIN)/ruff check .
	$(BIN)/python -m pytest

.PHONY: install sweep test
