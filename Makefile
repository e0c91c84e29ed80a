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

# One table of training/inference/data/metric speed (JSON in outputs/bench/); run on an otherwise idle
# machine (≈6 min on 2 cores, +1 min once to generate data/synthetic_h36m); sections: `posegcn fit` end to
# end, training step, batch-1 latency, GPU (only with CUDA).  `python benchmarks/bench.py --quick`: Modulated GCN only.
bench: $(STAMP)
	mkdir -p outputs/bench
	$(BIN)/python benchmarks/bench.py --json outputs/bench/bench.json

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info
