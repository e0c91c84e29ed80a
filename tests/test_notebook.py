"""The affinity notebook runs top to bottom on CPU: tiny training, heatmaps, edges, DG-Net graphs."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from posegcn.lift import load_module

REPO = Path(__file__).resolve().parents[1]
NOTEBOOK = REPO / "notebooks" / "affinity_inspection.ipynb"


def _inject(nb, params: dict) -> None:
    """Papermill-style: a cell assigning ``params`` right after the ``parameters`` cell."""
    index = next(i for i, c in enumerate(nb.cells) if "parameters" in c.metadata.get("tags", []))
    source = "\n".join(f"{k} = {v!r}" for k, v in params.items())
    nb.cells.insert(index + 1, nbformat.v4.new_code_cell(source, metadata={"tags": ["injected-parameters"]}))


def test_notebook_has_a_parameters_cell():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    assert sum("parameters" in c.metadata.get("tags", []) for c in nb.cells) == 1
    assert all(c.get("outputs", []) == [] for c in nb.cells if c.cell_type == "code"), (
        "commit it without outputs"
    )


def _execute(params: dict) -> tuple[str, int]:
    """Run the notebook with ``params`` injected; its printed text and number of images."""
    nb = nbformat.read(NOTEBOOK, as_version=4)
    _inject(nb, params)
    NotebookClient(
        nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOK.parent)}}
    ).execute()
    outputs = [out for c in nb.cells if c.cell_type == "code" for out in c.get("outputs", [])]
    text = "\n".join(out.get("text", "") for out in outputs)
    return text, sum("image/png" in out.get("data", {}) for out in outputs)


@pytest.mark.slow
def test_notebook_executes_end_to_end(tmp_path, synthetic_root, dgnet_run):
    """No checkpoint given: the notebook trains its tiny model; DG-Net's graphs from a `posegcn fit` checkpoint."""
    text, images = _execute(
        {
            "data_root": str(synthetic_root),  # the session's synthetic data, 24 frames per take
            "workdir": str(tmp_path / "run"),
            "dgnet_checkpoint": str(dgnet_run.last),
            "train_epochs": 1,
        }
    )
    trained = tmp_path / "run" / "checkpoints" / "last.ckpt"
    assert trained.is_file()
    assert f"{type(load_module(str(trained))).__name__} from {trained}" in text
    assert "10 graph layers" in text  # configs/modgcn.yaml: input, 4 blocks of 2, output
    assert "gconv_input.0.gconv" in text  # the per-layer edge list
    assert "dynamical layers" in text
    assert images >= 3  # affinities, edge evolution, DG-Net graphs


@pytest.mark.slow
def test_notebook_reads_a_fit_checkpoint(modgcn_run, tmp_path):
    """``papermill … -p checkpoint best.ckpt``: the checkpoint `posegcn fit` wrote, no training."""
    text, images = _execute({"checkpoint": str(modgcn_run.best), "workdir": str(tmp_path / "run")})
    assert not (tmp_path / "run").exists()
    assert f"{type(load_module(str(modgcn_run.best))).__name__} from {modgcn_run.best}: 16 joints" in text
    assert "10 graph layers" in text and "gconv_input.0.gconv" in text
    assert "no DG-Net checkpoint given" in text
    assert images >= 2  # affinities, edge evolution
