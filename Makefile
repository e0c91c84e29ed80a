# posegcn developer entry points.  `make demo` and `make test` work on a fresh machine.
PYTHON ?= python3
VENV   ?= .venv
TORCH  ?= torch==2.13.0
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install test test-fast lint demo bench clean

install: $(STAMP)

# torch goes first and pinned: an unpinned torch requirement pulls several GB of CUDA wheels.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet "$(TORCH)"
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

test: $(STAMP)
	WANDB_MODE=offline $(BIN)/python -m pytest -q

test-fast: $(STAMP)
	WANDB_MODE=offline $(BIN)/python -m pytest -q -m "not slow"

lint: $(STAMP)
	$(BIN)/ruff check posegcn tests benchmarks
	$(BIN)/ruff format --check posegcn tests benchmarks

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info
