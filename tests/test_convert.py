"""``posegcn convert``: original SemGCN / Modulated GCN checkpoints become posegcn checkpoints.

The original files are written by the tests themselves: a network built through the real
command-line parser gets "trained-looking" weights, its state dict is mapped back to the
original code's names and shapes by :func:`to_original` (the inverse of
``posegcn/models/original_checkpoints.py``, written here independently from the original
model files) and saved as the original scripts save it.  The converted file must then give
back the same weights, and ``posegcn test`` / ``predict`` / ``lift`` must accept it and
predict what the in-memory network predicts.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from posegcn.analysis.affinity import layer_affinities
from posegcn.cli import build_cli, main
from posegcn.convert import main as convert_main
from posegcn.lift import load_module
from posegcn.models.original_checkpoints import OriginalCheckpointError
from posegcn.nn.non_local import EmbeddedGaussianNonLocal, GroupedNonLocal

REPO = Path(__file__).resolve().parents[1]
SYNTHETIC = str(REPO / "configs" / "data" / "synthetic.yaml")
#: A small network of each paper config's architecture, so that every test stays fast.
SMALL = ["--model.net.init_args.hidden", "16", "--model.net.init_args.num_blocks", "2"]
#: config, and how its original script saves: ``main_gcn.py``'s dict or the CPN code's bare state dict.
CASES = {
    "semgcn": ("semgcn.yaml", "main_gcn"),
    "semgcn_nonlocal": ("semgcn_nonlocal.yaml", "main_gcn"),
    "modgcn_gt": ("modgcn.yaml", "main_gcn"),
    "modgcn_cpn": ("modgcn_cpn.yaml", "bare"),
}


@pytest.fixture(autouse=True)
def _plain_argv(monkeypatch):
    # LightningCLI warns when it gets args while sys.argv holds pytest's own options.
    monkeypatch.setattr(sys, "argv", ["posegcn"])


def config(name: str) -> list[str]:
    return ["--config", str(REPO / "configs" / CASES[name][0]), *SMALL]


def to_original(net: nn.Module) -> dict[str, torch.Tensor]:
    """posegcn state dict → the original code's state dict (names and shapes).

    * graph layers: ``affinity.Q`` was ``adj2``; the fixed adjacency was a plain attribute, not saved;
    * SemGCN's grouped non-local (``sem_gcn._GraphNonLocal`` around ``graph_non_local._NonLocalBlock``,
      Python 2.7): ``<k>.nonlocal.{theta, g.0, phi.0, concat_project.0, W.0, W.1}``, Conv1d weights
      ``[out, in, 1]``, the Conv2d ``concat_project`` ``[1, 2C', 1, 1]``, ``g``/``phi`` followed by max-pooling;
    * Modulated GCN CPN's ``NONLocalBlock2D(sub_sample=False)``: ``non_local.{theta, g, phi, W.0, W.1}``,
      Conv2d weights ``[out, in, 1, 1]``.
    """
    blocks = {
        name: module
        for name, module in net.named_modules()
        if isinstance(module, (GroupedNonLocal, EmbeddedGaussianNonLocal))
    }
    out = {}
    for key, value in net.state_dict().items():
        if key.endswith(".adjacency"):
            continue
        owner = next((name for name in blocks if key.startswith(name + ".")), None)
        if owner is None:
            out[key.replace(".affinity.Q", ".adj2")] = value.clone()
            continue
        grouped = isinstance(blocks[owner], GroupedNonLocal)
        layer, param = key[len(owner) + 1 :].split(".", 1)
        renamed = {
            "theta": "theta",
            "g": "g.0" if grouped else "g",
            "phi": "phi.0" if grouped else "phi",
            "concat_project": "concat_project.0",
            "w_z": "W.0",
            "bn": "W.1",
        }[layer]
        if value.dim() == 2:  # linear weight → 1×1 convolution kernel
            kernel = (1, 1) if (layer == "concat_project" or not grouped) else (1,)
            value = value.reshape(*value.shape, *kernel)
        prefix = f"{owner}.nonlocal" if grouped else owner
        out[f"{prefix}.{renamed}.{param}"] = value.clone()
    return out


def trained_module(name: str, seed: int = 0):
    """The config's LightningModule (real parser) with random weights and BatchNorm statistics."""
    module = build_cli(config(name), run=False).model
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for key, value in module.net.state_dict().items():
            if key.endswith(".adjacency") or not value.is_floating_point():
                continue
            noise = torch.randn(value.shape, generator=generator) * 0.1
            value.copy_(value.abs() + 0.5 if key.endswith("running_var") else value + noise)
    return module.eval()


def write_original(name: str, path: Path, module) -> Path:
    """Save ``module``'s network as the original script of ``name`` saves it."""
    state = to_original(module.net)
    if CASES[name][1] == "bare":  # Modulated GCN CPN code: torch.save(model.state_dict(), …)
        torch.save(state, path)
        return path
    params = [torch.zeros_like(v) for v in state.values() if v.is_floating_point()]
    optimizer = torch.optim.Adam(params, lr=1e-3)
    torch.save(
        {
            "epoch": 29,
            "lr": 0.00091,
            "step": 12345,
            "state_dict": state,
            "optimizer": optimizer.state_dict(),
            "error": 40.78,
        },
        path,
    )
    return path


def convert(name: str, original: Path, output: Path, *extra: str) -> None:
    """``posegcn convert`` through the command's entry point, as a user runs it."""
    main(["convert", *config(name), "--original", str(original), "--output", str(output), *extra])


def convert_raising(name: str, original: Path, output: Path, *extra: str) -> None:
    """The subcommand itself, whose input errors the ``posegcn`` entry point turns into one printed line."""
    convert_main([*config(name), "--original", str(original), "--output", str(output), *extra], build_cli)


@pytest.mark.parametrize("name", list(CASES))
def test_converted_weights_equal_the_network(name, tmp_path):
    module = trained_module(name)
    original = write_original(name, tmp_path / "orig.pth.tar", module)
    convert(name, original, tmp_path / "out.ckpt")

    loaded = load_module(str(tmp_path / "out.ckpt"))  # as posegcn lift and the notebook load it
    assert type(loaded) is type(module)
    config_hparams = {k: v for k, v in module.hparams.items() if not k.startswith("_")}
    assert dict(loaded.hparams) == config_hparams
    ours, theirs = module.net.state_dict(), loaded.net.state_dict()
    assert ours.keys() == theirs.keys()
    for key in ours:
        assert torch.equal(ours[key], theirs[key]), key
    x = torch.randn(4, module.num_joints, 2)
    torch.testing.assert_close(loaded(x), module(x), rtol=0, atol=0)
    assert len(layer_affinities(loaded)) == 2 * 2 + 2  # the notebook's view: every graph layer

    ckpt = torch.load(tmp_path / "out.ckpt", weights_only=True)
    # as `posegcn fit` writes them: with the class path that --ckpt_path merging and load_module read
    assert ckpt["hyper_parameters"] == dict(module.hparams)
    assert ckpt["hyper_parameters"]["_class_path"] == f"posegcn.lit.{type(module).__name__}"
    provenance = ckpt["posegcn_converted_from"]
    assert provenance["path"] == str(original.resolve())
    assert provenance["sha256"] == hashlib.sha256(original.read_bytes()).hexdigest()
    expected = (None, None) if CASES[name][1] == "bare" else (29, 40.78)
    assert (provenance["epoch"], provenance["error"]) == expected


def test_sixteen_joint_config_gives_a_sixteen_joint_model(tmp_path):
    module = trained_module("modgcn_gt")
    assert module.num_joints == 16  # linked from the config's data section
    convert(
        "modgcn_gt", write_original("modgcn_gt", tmp_path / "orig.pth.tar", module), tmp_path / "out.ckpt"
    )
    assert load_module(str(tmp_path / "out.ckpt")).net.num_joints == 16


def test_other_architecture_is_named(tmp_path):
    original = write_original("semgcn_nonlocal", tmp_path / "sem.pth.tar", trained_module("semgcn_nonlocal"))
    with pytest.raises(
        OriginalCheckpointError,
        match=r"sem\.pth\.tar is an original SemGCN \(16 joints, 16 channels, 2 blocks, grouped non-local\) "
        r"checkpoint, but the model is a Modulated GCN .*: use a SemGCN config",
    ):
        convert_raising("modgcn_gt", original, tmp_path / "out.ckpt")
    assert not (tmp_path / "out.ckpt").exists()


def test_wrong_channels_are_named_with_both_shapes(tmp_path):
    modgcn = str(REPO / "configs" / "modgcn.yaml")
    wide = build_cli(
        ["--config", modgcn, "--model.net.init_args.hidden", "384", "--model.net.init_args.num_blocks", "2"],
        run=False,
    )
    original = write_original("modgcn_gt", tmp_path / "wide.pth.tar", wide.model)
    with pytest.raises(
        OriginalCheckpointError,
        match=r"wide\.pth\.tar: \d+ weight\(s\) of another shape: gconv_input\.0\.gconv\.W is \(2, 2, 384\), "
        r"the model expects \(2, 2, 16\).*\(checkpoint: Modulated GCN \(16 joints, 384 channels, 2 blocks",
    ):
        convert_raising("modgcn_gt", original, tmp_path / "out.ckpt")


def test_missing_and_unknown_keys_are_named(tmp_path):
    state = torch.load(
        write_original("modgcn_cpn", tmp_path / "cpn.pth", trained_module("modgcn_cpn")), weights_only=True
    )
    missing = {k: v for k, v in state.items() if not k.startswith("non_local.")}
    torch.save(missing, tmp_path / "missing.pth")
    with pytest.raises(
        OriginalCheckpointError,
        match=r"missing\.pth: 13 weight\(s\) of ModulatedGCN missing from the checkpoint: non_local\.theta\.weight, "
        r".*no non-local\); model: .*embedded Gaussian non-local\)\)",
    ):
        convert_raising("modgcn_cpn", tmp_path / "missing.pth", tmp_path / "out.ckpt")
    torch.save({**state, "gconv_output.adj3": torch.zeros(17, 17)}, tmp_path / "extra.pth")
    with pytest.raises(
        OriginalCheckpointError, match=r"extra\.pth: 1 key\(s\) unknown to ModulatedGCN: gconv_output\.adj3"
    ):
        convert_raising("modgcn_cpn", tmp_path / "extra.pth", tmp_path / "out.ckpt")


def test_posegcn_checkpoints_unsafe_pickles_and_truncated_files_are_refused(tmp_path):
    module = trained_module("semgcn")
    original = write_original("semgcn", tmp_path / "orig.pth.tar", module)
    convert("semgcn", original, tmp_path / "out.ckpt")
    with pytest.raises(OriginalCheckpointError, match=r"out\.ckpt is a Lightning checkpoint already"):
        convert_raising("semgcn", tmp_path / "out.ckpt", tmp_path / "again.ckpt")
    # a NumPy error value is not a plain type: refused unless the user trusts the file
    saved = torch.load(original, weights_only=True)
    torch.save({**saved, "error": np.float64(41.2)}, tmp_path / "numpy.pth.tar")
    with pytest.raises(
        OriginalCheckpointError, match=r"numpy\.pth\.tar: .*\(Unsupported global: .*numpy.*add --trust-file"
    ):
        convert_raising("semgcn", tmp_path / "numpy.pth.tar", tmp_path / "np.ckpt")
    convert("semgcn", tmp_path / "numpy.pth.tar", tmp_path / "np.ckpt", "--trust-file")
    assert torch.load(tmp_path / "np.ckpt", weights_only=True)["posegcn_converted_from"]["error"] == 41.2
    with pytest.raises(OriginalCheckpointError, match="would overwrite the original"):
        convert_raising("semgcn", original, original)
    (tmp_path / "cut.pth.tar").write_bytes(original.read_bytes()[:5000])  # an interrupted download
    with pytest.raises(
        OriginalCheckpointError, match=r"cannot read .*cut\.pth\.tar \(5000 bytes\).*truncated"
    ):
        convert_raising("semgcn", tmp_path / "cut.pth.tar", tmp_path / "cut.ckpt")


def test_the_command_reports_one_line(tmp_path, capsys):
    original = write_original("semgcn", tmp_path / "sem.pth.tar", trained_module("semgcn"))
    with pytest.raises(SystemExit) as exit_info:
        convert("modgcn_gt", original, tmp_path / "out.ckpt")
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("posegcn: error: ") and "is an original SemGCN" in err[-1]
    with pytest.raises(SystemExit):
        convert("modgcn_gt", tmp_path / "absent.pth.tar", tmp_path / "out.ckpt")
    assert "original checkpoint not found" in capsys.readouterr().err


def test_help_names_the_command(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["convert", "--help"])
    assert exit_info.value.code == 0
    assert "posegcn convert" in capsys.readouterr().out


# ---------------------------------------------------------------------------- the other commands
def reference_pose(module, pose_2d: torch.Tensor) -> torch.Tensor:
    """The in-memory network's evaluation pose, flip averaging (VideoPose3D) written out."""
    net = module.net.eval()
    with torch.no_grad():
        pred = net(pose_2d)
        if module.test_flip:
            skeleton = net.skeleton
            swap = list(range(skeleton.num_joints))
            for left, right in zip(skeleton.joints_left, skeleton.joints_right):
                swap[left], swap[right] = right, left
            mirrored = pose_2d[:, swap].clone()
            mirrored[..., 0] *= -1
            back = net(mirrored)[:, swap]
            back[..., 0] *= -1
            pred = (pred + back) / 2
    return pred


@pytest.mark.slow
@pytest.mark.parametrize("name", ["semgcn_nonlocal", "modgcn_cpn"])
def test_converted_checkpoint_runs_test_predict_and_lift(name, tmp_path_factory, tmp_path):
    data = ["--config", SYNTHETIC, "--data.root", str(tmp_path_factory.getbasetemp() / "synthetic")]
    data += ["--data.frames_per_take", "20", "--trainer.enable_progress_bar", "false"]
    module = trained_module(name)
    checkpoint = tmp_path / "converted.ckpt"
    convert(name, write_original(name, tmp_path / "orig.pth.tar", module), checkpoint)

    # posegcn test: the same metrics as the in-memory network's
    run = ["--trainer.default_root_dir", str(tmp_path / "run")]
    main(["test", *config(name), *data, *run, "--ckpt_path", str(checkpoint)])
    reported = json.loads(next((tmp_path / "run").rglob("test_metrics.json")).read_text())["metrics"]
    reference = build_cli(
        [*config(name), *data, "--trainer.default_root_dir", str(tmp_path / "ref")], run=False
    )
    reference.model.net.load_state_dict(module.net.state_dict())
    expected = reference.trainer.test(reference.model, datamodule=reference.datamodule, verbose=False)[0]
    for key in ("mpjpe", "p_mpjpe"):
        assert reported[key] == pytest.approx(expected[f"test/{key}"], rel=1e-5), key

    # posegcn predict: every test pose as the in-memory network predicts it
    out_dir = tmp_path / "predict"
    main(["predict", *config(name), *data, *run, "--ckpt_path", str(checkpoint),
          "--prediction_writer.output_dir", str(out_dir)])  # fmt: skip
    predictions = np.load(out_dir / "predictions.npz")
    pose_2d = reference.datamodule.arrays("test").pose_2d[torch.as_tensor(predictions["index"])]
    expected_mm = reference_pose(module, pose_2d).numpy() * 1000.0
    np.testing.assert_allclose(predictions["poses_3d"], expected_mm, rtol=1e-4, atol=1e-3)

    # posegcn lift: pixel keypoints (Human3.6M camera 1000 × 1002), normalised as conventions §2 writes it
    width, height = 1000.0, 1002.0
    pixels = np.random.default_rng(0).uniform(200, 800, (6, module.num_joints, 2)).astype(np.float32)
    np.savez(tmp_path / "kp.npz", keypoints=pixels, width=width, height=height)
    main(
        [
            "lift",
            "--ckpt",
            str(checkpoint),
            "--input",
            str(tmp_path / "kp.npz"),
            "--output",
            str(tmp_path / "3d.npz"),
        ]
    )
    normalised = np.stack([pixels[..., 0] / width * 2 - 1, pixels[..., 1] / width * 2 - height / width], -1)
    pred = reference_pose(module, torch.as_tensor(normalised)).numpy()
    expected_mm = (pred - pred[:, :1]) * 1000.0
    np.testing.assert_allclose(np.load(tmp_path / "3d.npz")["poses_3d"], expected_mm, rtol=1e-4, atol=1e-3)

    # posegcn fit --ckpt_path: fine-tuning starts from the converted weights (an Adam step moves each by ≤ lr)
    main(["fit", *config(name), *data, *run, "--ckpt_path", str(checkpoint), "--trainer.max_epochs", "1",
          "--trainer.limit_train_batches", "2", "--trainer.limit_val_batches", "2",
          "--checkpoint.dirpath", str(tmp_path / "fit")])  # fmt: skip
    tuned = torch.load(tmp_path / "fit" / "last.ckpt", weights_only=False)["state_dict"]
    assert torch.load(tmp_path / "fit" / "last.ckpt", weights_only=False)["global_step"] == 2
    lr = module.configure_optimizers()["optimizer"].param_groups[0]["lr"]
    for key, value in module.net.named_parameters():
        step = (tuned[f"net.{key}"] - value).abs().max().item()
        assert step <= 2.02 * lr, (key, step)
