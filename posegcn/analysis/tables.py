"""The action-wise results table: one row per action group, the action-wise mean, the pooled mean.

Built from :meth:`~posegcn.metrics.PoseMetrics.compute_flat` results (plain floats keyed
``<metric>``, ``<metric>_actionwise``, ``<metric>/<group>``), so that a logger can record it
as a W&B table or a CSV file (:class:`~posegcn.callbacks.PoseFigureLogger`).  The text table
printed after ``posegcn test`` is :meth:`~posegcn.metrics.PoseMetrics.table`.
"""

from __future__ import annotations

from typing import Any

__all__ = ["ACTIONWISE_METRICS", "actionwise_rows"]

#: Columns of the action-wise table, in order.
ACTIONWISE_METRICS = ("mpjpe", "p_mpjpe", "n_mpjpe", "pck", "auc")


def actionwise_rows(flat: dict[str, float], group_names: list[str]) -> tuple[list[str], list[list[Any]]]:
    """Columns and rows of the action-wise table from :meth:`PoseMetrics.compute_flat` results."""
    metrics = [m for m in ACTIONWISE_METRICS if m in flat]
    columns = ["action", *metrics]
    rows = [[g, *(flat.get(f"{m}/{g}", float("nan")) for m in metrics)] for g in group_names]
    rows.append(["Average (action-wise)", *(flat.get(f"{m}_actionwise", float("nan")) for m in metrics)])
    rows.append(["All frames (pooled)", *(flat[m] for m in metrics)])
    return columns, rows
