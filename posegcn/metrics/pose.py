"""3D pose metrics as ``torchmetrics.Metric`` classes, frame-pooled and action-wise, exact under DDP.

Each metric keeps two sufficient statistics per action group — ``total`` (sum of the per-pose
values) and ``count`` (number of poses), both float64 ``[num_groups]`` summed across processes —
so the result does not depend on how the poses were sharded or batched.  ``compute()`` returns
the frame-pooled mean (``self.log("val/mpjpe", metric)`` works in Lightning);
:meth:`ActionwiseMetric.compute_actionwise` adds the papers' headline: the unweighted mean over
the action groups of the per-group means (conventions.md §4).

Exactness under several processes requires that every pose is seen exactly once: Lightning's
default ``DistributedSampler`` pads the last shard with repeated poses, which biases any summed
metric (``tests/test_metrics_ddp.py`` measures it).  Evaluate with an unpadded sampler.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor
from torchmetrics import MetricCollection

from posegcn._compat import DeviceOnlyStatesMetric, synced_states
from posegcn.metrics.functional import (
    ROOT_ALIGNMENTS,
    ActionwiseResult,
    _actionwise_compute,
    _actionwise_update,
    align_root,
    per_pose_auc,
    per_pose_mpjpe,
    per_pose_n_mpjpe,
    per_pose_p_mpjpe,
    per_pose_pck,
)

__all__ = ["ActionwiseMetric", "MPJPE", "PMPJPE", "NMPJPE", "PCK3D", "AUC3D", "PoseMetrics"]

_STATES = ("total", "count")


class ActionwiseMetric(DeviceOnlyStatesMetric):
    """Mean of a per-pose value, frame-pooled and per action group.

    Subclasses define :meth:`per_pose` (``[N, J, 3], [N, J, 3] → [N]``, float64).

    Args:
        num_groups: number of action groups (15 for Human3.6M); group indices are ``0…G−1``.
        joints: evaluate on this joint subset only (e.g. :func:`~posegcn.metrics.mpi_inf_3dhp_joints`).
        root_alignment: what is done to the prediction's root first, ``"unaligned"`` (default),
            ``"root_zeroed"`` (the SemGCN / Modulated GCN code) or ``"root_aligned"``
            (:func:`~posegcn.metrics.functional.align_root`).
        root_joint: index of the root joint (0 in every Human3.6M / HumanEva layout).
        validate_args: check the range of ``group`` on every update (one host sync).
        kwargs: passed to :class:`torchmetrics.Metric` (``sync_on_compute``, ``process_group``…).

    States (``dist_reduce_fx="sum"``): ``total [num_groups]`` and ``count [num_groups]``, float64;
    they stay float64 under ``.half()`` / ``.to(dtype)`` (Lightning's ``"16-true"`` precision).
    """

    is_differentiable = False
    full_state_update = False
    higher_is_better: bool = False
    device_only_states = _STATES  # sums over 5e5 poses need float64: `.to(dtype)` moves device only

    total: Tensor
    count: Tensor

    def __init__(
        self,
        num_groups: int = 1,
        joints: Sequence[int] | None = None,
        root_alignment: str = "unaligned",
        root_joint: int = 0,
        validate_args: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if not isinstance(num_groups, int) or num_groups < 1:
            raise ValueError(f"num_groups must be a positive integer, got {num_groups!r}")
        if root_alignment not in ROOT_ALIGNMENTS:
            raise ValueError(f"root_alignment must be one of {ROOT_ALIGNMENTS}, got {root_alignment!r}")
        self.num_groups = num_groups
        self.joints = None if joints is None else [int(j) for j in joints]
        self.root_alignment = root_alignment
        self.root_joint = int(root_joint)
        self.validate_args = validate_args
        for name in _STATES:
            self.add_state(name, torch.zeros(num_groups, dtype=torch.float64), dist_reduce_fx="sum")

    def per_pose(self, pred: Tensor, target: Tensor) -> Tensor:
        """The per-pose value: ``[N, J, 3], [N, J, 3] → [N]``."""
        raise NotImplementedError

    def update(self, pred: Tensor, target: Tensor, group: Tensor | None = None) -> None:
        """Accumulate poses ``[..., J, 3]`` (metres) with action-group indices ``group [...]`` (int).

        ``group=None`` puts every pose in group 0.  An empty batch is a no-op.
        """
        values = self.per_pose(align_root(pred, self.root_alignment, self.root_joint), target)
        if group is not None and self.validate_args:
            group = torch.as_tensor(group)
            if group.shape != values.shape:
                raise ValueError(
                    f"group must have one entry per pose: expected shape {tuple(values.shape)}, "
                    f"got {tuple(group.shape)}"
                )
            if group.numel() and (int(group.min()) < 0 or int(group.max()) >= self.num_groups):
                raise ValueError(
                    f"group indices must lie in [0, {self.num_groups}), got "
                    f"min {int(group.min())}, max {int(group.max())}"
                )
        total, count = _actionwise_update(values, group, self.num_groups)
        self.total += total
        self.count += count

    def compute(self) -> Tensor:
        """Frame-pooled mean over all poses seen (NaN before any pose)."""
        return self.total.sum() / self.count.sum()

    def compute_actionwise(self) -> ActionwiseResult:
        """Pooled, action-wise (unweighted over non-empty groups), per-group means and counts.

        Synchronises the states across processes like :meth:`compute`, so under DDP it is a
        collective call: every rank must make it.
        """
        with synced_states(self):
            result = _actionwise_compute(self.total, self.count)
        return result

    def extra_repr(self) -> str:
        joints = "" if self.joints is None else f", joints={self.joints}"
        return f"num_groups={self.num_groups}{joints}, root_alignment={self.root_alignment!r}"


class MPJPE(ActionwiseMetric):
    """Protocol #1: mean per-joint position error of root-relative poses, in millimetres."""

    def per_pose(self, pred: Tensor, target: Tensor) -> Tensor:
        return per_pose_mpjpe(pred, target, self.joints)


class PMPJPE(ActionwiseMetric):
    """Protocol #2: MPJPE after per-pose similarity Procrustes alignment (reflection fixed), in mm.

    Args:
        method: ``"jacobi"`` (default) or ``"svd"``, see :func:`~posegcn.metrics.functional.similarity_transform`.
    """

    def __init__(
        self,
        num_groups: int = 1,
        joints: Sequence[int] | None = None,
        method: str = "jacobi",
        **kwargs: Any,
    ) -> None:
        super().__init__(num_groups=num_groups, joints=joints, **kwargs)
        self.method = method

    def per_pose(self, pred: Tensor, target: Tensor) -> Tensor:
        return per_pose_p_mpjpe(pred, target, self.joints, method=self.method)


class NMPJPE(ActionwiseMetric):
    """N-MPJPE: MPJPE after a per-pose least-squares scale of the prediction, in millimetres."""

    def per_pose(self, pred: Tensor, target: Tensor) -> Tensor:
        return per_pose_n_mpjpe(pred, target, self.joints)


class PCK3D(ActionwiseMetric):
    """3DPCK: % of joints with error strictly below ``threshold`` metres (default 150 mm).

    Per pose, the % of its joints; every pose has the same joints, so the pose-pooled value
    equals the joint-pooled one.
    """

    higher_is_better = True

    def __init__(
        self,
        threshold: float = 0.150,
        num_groups: int = 1,
        joints: Sequence[int] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(num_groups=num_groups, joints=joints, **kwargs)
        if not (isinstance(threshold, (int, float)) and math.isfinite(threshold) and threshold >= 0):
            raise ValueError(f"threshold must be a non-negative distance in metres, got {threshold!r}")
        self.threshold = float(threshold)

    def per_pose(self, pred: Tensor, target: Tensor) -> Tensor:
        return per_pose_pck(pred, target, self.threshold, self.joints)


class AUC3D(ActionwiseMetric):
    """AUC: mean 3DPCK over the 31 thresholds 0, 5, …, 150 mm, in %."""

    higher_is_better = True

    def per_pose(self, pred: Tensor, target: Tensor) -> Tensor:
        return per_pose_auc(pred, target, self.joints)


class PoseMetrics(MetricCollection):
    """All five pose metrics updated together, with flat results and a per-action table.

    Keys: ``mpjpe``, ``p_mpjpe``, ``n_mpjpe``, ``pck``, ``auc``, and ``mpjpe_unaligned`` when
    ``root_alignment`` is not ``"unaligned"``: every metric sees the prediction after the root
    convention (as the original codes compute P-MPJPE on the root-zeroed prediction too), and the
    unaligned Protocol #1 is always reported beside it.  :meth:`compute` (the
    ``MetricCollection`` one) returns their frame-pooled values; :meth:`compute_flat` returns
    plain floats ``{"mpjpe": pooled, "mpjpe_actionwise": …, "mpjpe/<group name>": …, …}``;
    :meth:`table` renders one row per group plus ``Average (action-wise)`` and
    ``All frames (pooled)``.

    Args:
        num_groups: number of action groups.
        group_names: one name per group (default ``["all"]`` for one group, else ``group0…``).
        joints: joint subset for all metrics.
        pck_threshold: 3DPCK threshold in metres.
        p_mpjpe_method: Procrustes solver, ``"jacobi"`` or ``"svd"``.
        root_alignment: Protocol #1 root convention applied to the prediction before every metric
            (:func:`~posegcn.metrics.functional.align_root`).
        root_joint: index of the root joint.
    """

    _LABELS = {
        "mpjpe": "MPJPE",
        "p_mpjpe": "P-MPJPE",
        "n_mpjpe": "N-MPJPE",
        "pck": "PCK",
        "auc": "AUC",
        "mpjpe_unaligned": "MPJPE unaligned",
    }

    def __init__(
        self,
        num_groups: int = 1,
        group_names: Sequence[str] | None = None,
        joints: Sequence[int] | None = None,
        pck_threshold: float = 0.150,
        p_mpjpe_method: str = "jacobi",
        root_alignment: str = "unaligned",
        root_joint: int = 0,
        **kwargs: Any,
    ) -> None:
        if group_names is None:
            group_names = ["all"] if num_groups == 1 else [f"group{g}" for g in range(num_groups)]
        group_names = [str(n) for n in group_names]
        if len(group_names) != num_groups:
            raise ValueError(f"group_names has {len(group_names)} names for num_groups={num_groups}")
        if len(set(group_names)) != num_groups:
            raise ValueError(f"group_names must be distinct, got {group_names}")
        common = {"num_groups": num_groups, "joints": joints, "root_joint": root_joint, **kwargs}
        aligned = {**common, "root_alignment": root_alignment}
        metrics = {
            "mpjpe": MPJPE(**aligned),
            "p_mpjpe": PMPJPE(method=p_mpjpe_method, **aligned),
            "n_mpjpe": NMPJPE(**aligned),
            "pck": PCK3D(threshold=pck_threshold, **aligned),
            "auc": AUC3D(**aligned),
        }
        if root_alignment != "unaligned":
            metrics["mpjpe_unaligned"] = MPJPE(**common)
        super().__init__(metrics, compute_groups=False)  # the states differ; no merging
        self.group_names = group_names
        self.root_alignment = root_alignment

    def compute_actionwise(self) -> dict[str, ActionwiseResult]:
        """:meth:`ActionwiseMetric.compute_actionwise` of each metric (collective under DDP)."""
        return {name: self[name].compute_actionwise() for name in self._LABELS if name in self}

    def compute_flat(self, results: dict[str, ActionwiseResult] | None = None) -> dict[str, float]:
        """Plain floats with stable keys: ``<metric>``, ``<metric>_actionwise``, ``<metric>/<group>``.

        Pass ``results`` from :meth:`compute_actionwise` to avoid computing (and syncing) again.
        """
        results = self.compute_actionwise() if results is None else results
        flat: dict[str, float] = {}
        for name, result in results.items():
            flat[name] = float(result.pooled)
            flat[f"{name}_actionwise"] = float(result.actionwise)
            for group_name, value in zip(self.group_names, result.per_group.tolist()):
                flat[f"{name}/{group_name}"] = value
        return flat

    def table(self, results: dict[str, ActionwiseResult] | None = None, digits: int = 2) -> str:
        """Per-action text table: rows = groups, the action-wise average and the pooled mean.

        Errors in mm, PCK/AUC in %.  Empty groups print ``-``.  Pass ``results`` from
        :meth:`compute_actionwise` to avoid computing (and, under DDP, syncing) again.
        """
        results = self.compute_actionwise() if results is None else results
        names = list(results)
        counts = next(iter(results.values())).counts.tolist()

        def fmt(value: float) -> str:
            return "-" if math.isnan(value) else f"{value:.{digits}f}"

        rows = [
            [group, f"{int(n)}", *(fmt(results[m].per_group[g].item()) for m in names)]
            for g, (group, n) in enumerate(zip(self.group_names, counts))
        ]
        rows.append(["Average (action-wise)", "", *(fmt(results[m].actionwise.item()) for m in names)])
        rows.append(
            ["All frames (pooled)", f"{int(sum(counts))}", *(fmt(results[m].pooled.item()) for m in names)]
        )
        header = ["Action", "Frames", *(self._LABELS.get(m, m) for m in names)]
        widths = [max(len(r[c]) for r in [header, *rows]) for c in range(len(header))]

        def line(cells: list[str]) -> str:
            return "  ".join(
                cell.ljust(w) if c == 0 else cell.rjust(w) for c, (cell, w) in enumerate(zip(cells, widths))
            )

        rule = "-" * len(line(header))
        return "\n".join(
            [line(header), rule, *(line(r) for r in rows[:-2]), rule, *(line(r) for r in rows[-2:])]
        )
