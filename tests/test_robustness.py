"""Robustness evaluation: Gaussian pixel noise on the normalised 2D input (DG-Net Table X)."""

from __future__ import annotations

from functools import partial

import pytest
import torch

from posegcn.lit import PoseLiftingModule
from posegcn.lit.module import add_pixel_noise, noise_key, noise_table
from posegcn.losses import WeightedLoss
from posegcn.models import ModulatedGCN


def test_noise_has_sigma_pixels_after_denormalisation():
    x = torch.zeros(4000, 17, 2)
    noisy = add_pixel_noise(x, 10.0, seed=3)  # 1000 px wide by default: 10 px = 0.02 units
    assert (noisy - x).std().item() == pytest.approx(0.02, rel=0.02)
    assert (noisy - x).mean().abs().item() < 1e-3
    # per-sample widths: back in pixels (·w/2) the spread is σ px for every width
    width = torch.tensor([500.0, 2000.0]).repeat_interleave(2000)
    noise_px = (add_pixel_noise(x, 10.0, width, seed=4) - x) * width[:, None, None] / 2
    assert noise_px[:2000].std().item() == pytest.approx(10.0, rel=0.03)
    assert noise_px[2000:].std().item() == pytest.approx(10.0, rel=0.03)
    # temporal windows [B, T, J, 2]; reproducible per seed
    w = torch.zeros(3, 4, 17, 2)
    torch.testing.assert_close(add_pixel_noise(w, 5.0, seed=1), add_pixel_noise(w, 5.0, seed=1))
    assert not torch.equal(add_pixel_noise(w, 5.0, seed=1), add_pixel_noise(w, 5.0, seed=2))
    assert torch.equal(add_pixel_noise(w, 0.0, seed=1), w)


def test_noise_keys_and_validation():
    assert noise_key(5) == "noise5" and noise_key(2.5) == "noise2.5"
    table = noise_table(
        {f"noise5/{m}": 1.0 for m in ("mpjpe", "p_mpjpe", "mpjpe_actionwise", "p_mpjpe_actionwise")}, [5]
    )
    assert "P-MPJPE" in table and "5" in table
    assert PoseLiftingModule(
        net=partial(ModulatedGCN, hidden=8, num_blocks=1),
        loss=partial(WeightedLoss, mse=1.0),
        skeleton="h36m16",
        test_noise_px=[5, 10],
    ).test_noise_px == [5.0, 10.0]
    with pytest.raises(ValueError, match="test_noise_px"):
        PoseLiftingModule(
            net=partial(ModulatedGCN, hidden=8, num_blocks=1),
            loss=partial(WeightedLoss, mse=1.0),
            skeleton="h36m16",
            test_noise_px=[-1],
        )
