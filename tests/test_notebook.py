"""The affinity notebook runs top to bottom on CPU: tiny training, heatmaps, edges, DG-Net graphs."""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat
import pytest
import torch
from nbclient import NotebookClient

from posegcn.lit import DGNetModule

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


@pytest.mark.slow
def test_notebook_executes_end_to_end(tmp_path):
    sys.path.insert(0, str(Path(__file__).parent))
    from test_predict import save_checkpoint

    torch.manual_seed(0)
    dgnet = save_checkpoint(
        DGNetModule(num_joints=17, num_frames=3, hidden=8, num_blocks=1), tmp_path / "dg.ckpt"
    )
    nb = nbformat.read(NOTEBOOK, as_version=4)
    _inject(
        nb,
        {
            "data_root": str(tmp_path / "synthetic"),
            "workdir": str(tmp_path / "run"),
            "dgnet_checkpoint": str(dgnet),
            "train_epochs": 1,
        },
    )
    NotebookClient(
        nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOK.parent)}}
    ).execute()
    text = "\n".join(
        out.get("text", "") for c in nb.cells if c.cell_type == "code" for out in c.get("outputs", [])
    )
    images = sum("image/png" in out.get("data", {}) for c in nb.cells for out in c.get("outputs", []))
    assert "ModulatedGCNModule" in text and "10 graph layers" in text
    assert "gconv_input.0.gconv" in text  # the per-layer edge list
    assert "dynamical layers" in text
    assert images >= 3  # affinities, edge evolution, DG-Net graphs
    assert (tmp_path / "run" / "checkpoints" / "last.ckpt").is_file()
