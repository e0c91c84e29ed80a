"""The installed ``posegcn`` command (the console script ``pip install`` wrote), run as a user runs it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]


def posegcn(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    # the environment's own script, not whichever `posegcn` comes first on PATH
    exe = Path(sys.prefix) / "bin" / "posegcn"
    assert exe.is_file(), f"{exe} is missing: the package's console script is not installed"
    return subprocess.run([str(exe), *args], cwd=cwd, capture_output=True, text=True, timeout=300)


def assert_contains(printed, written, where: str = "") -> None:
    """Every value ``written`` in the config file is in the printout, at the same place."""
    if isinstance(written, dict):
        assert isinstance(printed, dict), where
        for key, value in written.items():
            assert key in printed, f"{where}.{key} missing from --print_config"
            assert_contains(printed[key], value, f"{where}.{key}")
    else:
        assert printed == written, where


def test_help_lists_the_subcommands(tmp_path):
    run = posegcn("--help", cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith("usage: posegcn ")
    for command in ("fit", "validate", "test", "predict"):
        assert f"    {command} " in run.stdout, command


@pytest.mark.slow
def test_print_config_and_lift_help(tmp_path):
    config = REPO / "configs" / "modgcn.yaml"
    run = posegcn("fit", "--config", str(config), "--print_config", cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    printed, written = yaml.safe_load(run.stdout), yaml.safe_load(config.read_text())
    assert_contains(printed, written)  # every knob of the recipe, with its value
    assert printed["checkpoint"]["monitor"] == "val/mpjpe"  # posegcn's defaults are in the printout
    assert not list(tmp_path.iterdir()), "--print_config must not start a run"
    # `lift` is dispatched before the LightningCLI: its own options
    run = posegcn("lift", "--help", cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert "--ckpt" in run.stdout and "--input" in run.stdout and "--output" in run.stdout
