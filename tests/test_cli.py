"""The ``posegcn`` command: every config parses and builds the paper's network; short real runs learn."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from posegcn.cli import build_cli, main
from posegcn.data import load_h36m

REPO = Path(__file__).resolve().parents[1]
MODEL_CONFIGS = sorted((REPO / "configs").glob("*.yaml"))
ABLATIONS = sorted((REPO / "configs" / "ablations").glob("*.yaml"))
SYNTHETIC = str(REPO / "configs" / "data" / "synthetic.yaml")


@pytest.fixture(autouse=True)
def _plain_argv(monkeypatch):
    # LightningCLI warns when it gets args while sys.argv holds pytest's own options.
    monkeypatch.setattr(sys, "argv", ["posegcn"])


def _num_params(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def _synthetic_args(root: Path) -> list[str]:
    return ["--config", SYNTHETIC, "--data.root", str(root), "--data.frames_per_take", "24"]


def test_configs_exist():
    names = {p.name for p in MODEL_CONFIGS}
    assert {
        "semgcn.yaml",
        "semgcn_nonlocal.yaml",
        "semgcn_sh.yaml",
        "modgcn.yaml",
        "modgcn_cpn.yaml",
    } <= names
    assert len(ABLATIONS) >= 14


@pytest.mark.parametrize("config", MODEL_CONFIGS, ids=lambda p: p.name)
def test_model_config_builds_on_synthetic_data(config, tmp_path):
    cli = build_cli(["--config", str(config), *_synthetic_args(tmp_path)], run=False)
    # the skeleton (by name) and the window length come from the model config's data section and
    # reach the network itself, not only the module's arguments (the silent-link pitfall)
    dm, net = cli.datamodule, cli.model.net
    assert cli.model.hparams.skeleton == dm.skeleton.name
    assert net.skeleton is dm.skeleton and net.num_joints == dm.skeleton.num_joints
    assert getattr(net, "num_frames", 1) == cli.model.num_frames == dm.num_frames
    expected = {"semgcn.yaml": 267_343, "semgcn_nonlocal.yaml": 434_703, "modgcn.yaml": 287_923}
    if config.name in expected:
        assert cli.model.num_joints == 16
        assert _num_params(cli.model) == expected[config.name]


@pytest.mark.parametrize("ablation", ABLATIONS, ids=lambda p: p.name)
def test_ablation_overrides_apply(ablation, tmp_path):
    import yaml

    cli = build_cli(
        [
            "--config",
            str(REPO / "configs" / "modgcn.yaml"),
            "--config",
            str(ablation),
            *_synthetic_args(tmp_path),
        ],
        run=False,
    )
    wanted = yaml.safe_load(ablation.read_text())["model"]["init_args"]
    for part in ("net", "loss"):
        for key, value in wanted[part]["init_args"].items():
            assert cli.model.hparams[part]["init_args"][key] == value, (part, key)
    weights = {k: w for k, w in wanted["loss"]["init_args"].items() if w}
    assert {k: w for k, w in cli.model.criterion.weights.items() if w} == weights


def test_skeleton_link_from_command_line(tmp_path):
    cli = build_cli(["--config", str(REPO / "configs" / "modgcn.yaml"), *_synthetic_args(tmp_path),
                     "--data.num_joints", "17"], run=False)  # fmt: skip
    assert cli.model.skeleton.name == "h36m17" and cli.model.hparams.skeleton == "h36m17"
    assert cli.model.net.skeleton.name == "h36m17" and cli.model.net.num_joints == 17


def test_window_length_link_reaches_the_network(tmp_path):
    base = [
        "--config",
        str(REPO / "configs" / "dgnet.yaml"),
        *_synthetic_args(tmp_path),
        "--data.num_joints",
        "17",
    ]
    small = ["--model.net.init_args.hidden", "8", "--model.net.init_args.num_blocks", "1"]
    # the network follows the data's window length (the module passes it)
    cli = build_cli([*base, "--data.num_frames", "6", *small], run=False)
    assert cli.model.num_frames == cli.model.net.num_frames == cli.datamodule.num_frames == 6
    # a network configured for another window is refused, naming both keys
    with pytest.raises(ValueError, match="data.num_frames.*net.init_args.num_frames"):
        build_cli(
            [*base, "--data.num_frames", "6", "--model.net.init_args.num_frames", "5", *small], run=False
        )


def test_other_17_joint_layout_keeps_its_own_graph(tmp_path):
    """MPI-INF-3DHP's own 17-joint order is not Human3.6M's: the network is built for the named skeleton."""
    from functools import partial

    from posegcn.lit import PoseLiftingModule
    from posegcn.losses import WeightedLoss
    from posegcn.models import SemGCN
    from posegcn.skeleton import H36M_17, MPI_INF_3DHP_17

    model = PoseLiftingModule(
        net=partial(SemGCN, hidden=8, num_blocks=1),
        loss=partial(WeightedLoss, mse=1.0),
        skeleton="mpi_inf_3dhp17",
    )
    assert model.net.skeleton is MPI_INF_3DHP_17
    assert not torch.equal(MPI_INF_3DHP_17.adjacency(), H36M_17.adjacency())


@pytest.mark.parametrize(
    ("args", "new_key"),
    [
        (["--model.lr", "0.002"], "--model.optimizer.init_args.lr"),
        (["--model.lr_decay_every", "4"], "--model.lr_scheduler.init_args.every"),
        (["--model.hidden", "64"], "--model.net.init_args.hidden"),
        (["--model.bone_weight", "1.0"], "--model.loss.init_args.bone"),
        (["--model.sparsity_weight", "1e-6"], "--model.loss.init_args.sparsity"),
    ],
)
def test_renamed_keys_fail_naming_the_new_key(args, new_key, tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["fit", "--config", str(REPO / "configs" / "modgcn.yaml"), *_synthetic_args(tmp_path), *args])
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("posegcn: error:") and new_key in err[0], err


def test_old_module_config_fails_naming_the_new_structure(tmp_path, capsys):
    old = tmp_path / "old.yaml"
    old.write_text(
        "model:\n  class_path: posegcn.lit.SemGCNModule\n  init_args:\n    hidden: 128\n    lr: 0.001\n"
    )
    with pytest.raises(SystemExit):
        main(["fit", "--config", str(old), *_synthetic_args(tmp_path)])
    err = capsys.readouterr().err.strip().splitlines()
    assert (
        len(err) == 1 and "posegcn.lit.PoseLiftingModule" in err[0] and "posegcn.models.SemGCN" in err[0]
    ), err


def _fit_and_test(tmp_path: Path, data_root: Path, extra: list[str]) -> Path:
    run_dir = tmp_path / "run"
    common = [
        "--config", str(REPO / "configs" / "modgcn.yaml"), *_synthetic_args(data_root),
        # held-out split: train S1 S5 S6 S7, select on S8 (the learning check compares with their mean pose)
        "--config", str(REPO / "configs" / "data" / "h36m_heldout.yaml"),
        "--trainer.default_root_dir", str(run_dir), "--trainer.enable_progress_bar", "false", *extra,
    ]  # fmt: skip
    main(["fit", *common, "--checkpoint.dirpath", str(run_dir / "checkpoints")])
    assert (run_dir / "checkpoints" / "best.ckpt").is_file()
    assert (run_dir / "checkpoints" / "last.ckpt").is_file()
    main(["test", *common, "--ckpt_path", str(run_dir / "checkpoints" / "best.ckpt")])
    found = sorted(run_dir.rglob("test_metrics.json"))
    assert found, "test_metrics.json was not written"
    return found[-1]


@pytest.mark.slow
def test_short_training_run_learns(tmp_path):
    data_root = tmp_path / "synthetic"
    metrics_file = _fit_and_test(
        tmp_path,
        data_root,
        [
            "--data.frames_per_take",
            "40",
            "--trainer.max_epochs",
            "4",
            "--model.optimizer.init_args.lr",
            "0.002",
        ],
    )
    metrics = json.loads(metrics_file.read_text())["metrics"]
    for key in ("mpjpe", "mpjpe_actionwise", "p_mpjpe", "n_mpjpe", "pck", "auc", "mpjpe/Walking"):
        assert key in metrics, key

    # The baseline every lifting network must beat: always predict the mean training pose.
    train = load_h36m(data_root, "gt", subjects=["S1", "S5", "S6", "S7"], num_joints=16)
    test = load_h36m(data_root, "gt", subjects=["S9", "S11"], num_joints=16)
    mean_pose = train.pose_3d.mean(dim=0)
    baseline = (test.pose_3d - mean_pose).norm(dim=-1).mean().item() * 1000
    print(f"test MPJPE {metrics['mpjpe']:.1f} mm, mean-pose baseline {baseline:.1f} mm")
    assert metrics["mpjpe"] < 0.6 * baseline, (metrics["mpjpe"], baseline)


@pytest.mark.slow
def test_multi_process_test_equals_single_process(tmp_path):
    """``posegcn test`` on 3 CPU processes gives the single-process metrics exactly.

    80 test poses (one action group, every 5th frame) do not split evenly over 3 ranks and
    batches of 7 give the ranks different batch counts: a padding sampler would bias this.
    """
    data_root = tmp_path / "synthetic"
    _fit_and_test(tmp_path, data_root, ["--trainer.max_epochs", "1", "--data.downsample", "4"])
    ckpt = tmp_path / "run" / "checkpoints" / "best.ckpt"
    eval_args = [
        "--config", str(REPO / "configs" / "modgcn.yaml"), *_synthetic_args(data_root),
        "--data.actions", "[Walking]", "--data.eval_downsample", "5", "--data.eval_batch_size", "7",
        "--trainer.enable_progress_bar", "false", "--ckpt_path", str(ckpt),
    ]  # fmt: skip
    main(["test", *eval_args, "--trainer.default_root_dir", str(tmp_path / "single")])
    single_report = json.loads(sorted((tmp_path / "single").rglob("test_metrics.json"))[-1].read_text())
    single = single_report["metrics"]

    env = {**os.environ, "WANDB_MODE": "offline", "OMP_NUM_THREADS": "1"}
    cmd = [
        sys.executable, "-m", "posegcn.cli", "test", *eval_args,
        "--trainer.strategy", "ddp", "--trainer.devices", "3", "--trainer.accelerator", "cpu",
        "--trainer.default_root_dir", str(tmp_path / "ddp"),
    ]  # fmt: skip
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-4000:]
    ddp_report = json.loads(sorted((tmp_path / "ddp").rglob("test_metrics.json"))[-1].read_text())
    ddp = ddp_report["metrics"]
    # every test pose counted exactly once: no padding duplicates on any rank
    assert single_report["frames"]["all"] == ddp_report["frames"]["all"] == 80

    assert single.keys() == ddp.keys()
    for key, value in single.items():
        if value is None:
            assert ddp[key] is None, key
        else:
            assert ddp[key] == pytest.approx(value, rel=1e-6, abs=1e-6), key
