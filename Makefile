# posegcn developer entry points.  `make demo` and `make test` work on a fresh machine.
PYTHON ?= python3
VENV   ?= .venv
TORCH  ?= torch==2.13.0
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

DEMO_DIR ?= outputs/demo
DEMO_EPOCHS ?= 6

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

# Train Modulated GCN (GT setting) on the synthetic dataset, then test the best checkpoint.
demo: $(STAMP)
	WANDB_MODE=offline $(BIN)/posegcn fit --config configs/modgcn.yaml --config configs/data/synthetic.yaml \
		--trainer.max_epochs $(DEMO_EPOCHS) --trainer.default_root_dir $(DEMO_DIR) \
		--checkpoint.dirpath $(DEMO_DIR)/checkpoints
	WANDB_MODE=offline $(BIN)/posegcn test --config configs/modgcn.yaml --config configs/data/synthetic.yaml \
		--trainer.default_root_dir $(DEMO_DIR) --ckpt_path $(DEMO_DIR)/checkpoints/best.ckpt

# Benchmarks print tables (and write JSON under outputs/bench/); run on an otherwise idle machine.
bench: $(STAMP)
	mkdir -p outputs/bench
	$(BIN)/python benchmarks/bench_metrics.py --output outputs/bench/metrics.json
	$(BIN)/python benchmarks/bench_dgnet.py --json outputs/bench/dgnet.json

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info
