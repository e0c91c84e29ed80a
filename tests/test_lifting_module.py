"""The one lifting module: each architecture's training loss is its loss module, and the staircase decays."""

from __future__ import annotations

from functools import partial

import lightning.pytorch as pl
import pytest
import torch
from torch.utils.data import DataLoader

from posegcn.lit import PoseLiftingModule, StaircaseLR
from posegcn.losses import MultiLevelLoss, WeightedLoss
from posegcn.models import DGNet, ModulatedGCN, SemGCN

ARCHITECTURES = {
    "semgcn_eq7": (partial(SemGCN, hidden=8, num_blocks=1), partial(WeightedLoss, mse=1.0, bone=0.5), "h36m16", 1),
    "modgcn_sparsity": (
        partial(ModulatedGCN, hidden=8, num_blocks=1),
        partial(WeightedLoss, mse=0.9, l1=0.1, sparsity=1e-3),
        "h36m16",
        1,
    ),
    "dgnet": (partial(DGNet, num_frames=4, hidden=8, num_blocks=1), partial(MultiLevelLoss, lam=0.1), "h36m17", 4),
}  # fmt: skip


def _batch(joints: int, frames: int, n: int = 6) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    shape = (n, frames, joints) if frames > 1 else (n, joints)
    return {"pose_2d": torch.randn(*shape, 2, generator=g), "pose_3d": torch.randn(*shape, 3, generator=g)}


@pytest.mark.parametrize("name", sorted(ARCHITECTURES))
def test_training_loss_is_the_loss_module_on_the_network_output(name):
    net, loss, skeleton, frames = ARCHITECTURES[name]
    torch.manual_seed(0)
    module = PoseLiftingModule(net=net, loss=loss, skeleton=skeleton, num_frames=frames)
    batch = _batch(module.num_joints, frames)
    module.train()
    torch.manual_seed(1)
    got = module.training_step(batch, 0)
    torch.manual_seed(1)
    output = module.net(batch["pose_2d"])
    expected = module.criterion(output, batch["pose_3d"], module.net)
    torch.testing.assert_close(got, expected, rtol=0, atol=0)
    # and that loss module is the reference it claims to be: the terms, weighted and summed
    terms = module.criterion.terms(output, batch["pose_3d"], module.net)
    assert set(terms) == {k for k, w in module.criterion.weights.items() if w}
    assert got.item() == pytest.approx(sum(module.criterion.weights[k] * v.item() for k, v in terms.items()))
    if name == "modgcn_sparsity":
        assert terms["sparsity"].item() == pytest.approx(module.net.affinity_l1().item(), rel=1e-6)
    if name == "dgnet":
        assert len(output.block_poses) == 1 and "blocks" in terms


class _Poses(torch.utils.data.Dataset):
    def __init__(self, n: int) -> None:
        self.batch = _batch(16, 1, n)

    def __len__(self) -> int:
        return len(self.batch["pose_2d"])

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        return {k: v[i] for k, v in self.batch.items()}


# 4 optimiser steps per epoch: ×0.5 every 3 steps for 2 epochs = ⌊8/3⌋ = 2 decays (a per-epoch
# schedule would have decayed 0 times); ×0.5 every epoch for 3 epochs = 3 decays (not 12).
@pytest.mark.parametrize(
    ("interval", "every", "epochs", "factor"), [("step", 3, 2, 0.25), ("epoch", 1, 3, 0.125)]
)
def test_staircase_applied_by_the_trainer(interval, every, epochs, factor, tmp_path):
    """The learning rate a real Trainer leaves after N steps / epochs is ``lr · decay^⌊N / every⌋``."""
    module = PoseLiftingModule(
        net=partial(SemGCN, hidden=8, num_blocks=1),
        loss=partial(WeightedLoss, mse=1.0),
        skeleton="h36m16",
        lr_scheduler=partial(StaircaseLR, every=every, decay=0.5, interval=interval),
    )
    trainer = pl.Trainer(
        max_epochs=epochs,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        limit_val_batches=0,
        default_root_dir=tmp_path,
    )
    trainer.fit(module, DataLoader(_Poses(8), batch_size=2))
    assert trainer.global_step == 4 * epochs
    assert trainer.optimizers[0].param_groups[0]["lr"] == pytest.approx(1e-3 * factor)


@pytest.mark.parametrize(
    "factory", [DGNet, partial(DGNet, hidden=8, num_blocks=1), partial(DGNet, num_frames=None)]
)
def test_a_temporal_network_is_built_for_the_datas_window(factory):
    module = PoseLiftingModule(net=factory, loss=MultiLevelLoss, skeleton="h36m17", num_frames=3)
    assert module.net.num_frames == module.num_frames == 3


def test_a_network_configured_for_another_window_is_refused():
    from posegcn.errors import PoseGCNInputError

    with pytest.raises(PoseGCNInputError, match="num_frames=3 but DGNet is configured for num_frames=5"):
        PoseLiftingModule(
            net=partial(DGNet, num_frames=5), loss=MultiLevelLoss, skeleton="h36m17", num_frames=3
        )
    with pytest.raises(PoseGCNInputError, match="SemGCN is configured for num_frames=1"):
        PoseLiftingModule(net=SemGCN, loss=WeightedLoss, skeleton="h36m16", num_frames=3)
