"""Affinity modulation (Modulated GCN §3.3, Eq. 6–9) and its regularisers.

A graph layer aggregates node features with an affinity matrix ``Â ∈ R^{J×J}``.
Modulated GCN studies how to make ``Â`` learnable around the fixed skeleton
affinity ``A`` (``Skeleton.adjacency("degree_diag1")`` in the original code):

=================  ===========  =======================================
``variant``        equation     ``Â``
=================  ===========  =======================================
``"skeleton"``     –            ``A`` (fixed)
``"mul"``          Eq. 6        ``A ⊙ P``
``"add"``          Eq. 7        ``A + Q``  (the paper's choice, default)
``"mix"``          Eq. 8        ``A ⊙ P + Q``
``"no_skeleton"``  Eq. 9        ``Q``
=================  ===========  =======================================

``P`` starts at ones and ``Q`` at ``1e-6`` everywhere, as in the original code.

Regularisers of the paper:

* **symmetry** — the original code symmetrises the *whole* affinity,
  ``Â ← (Â + Âᵀ)/2`` (``symmetric=True`` or ``"affinity"``, the default); the paper
  (§3.3) symmetrises only the learned matrices, ``Q ← (Q + Qᵀ)/2``
  (``symmetric="modulation"``).  They differ because the row-normalised skeleton
  affinity ``A`` is not symmetric.
* **low rank** — ``Q = L Lᵀ`` with ``L ∈ R^{J×r}`` (``low_rank=r``; symmetric by
  construction).  ``L`` is drawn from ``N(0, q_init/r)`` so that ``E[Q_ii] = q_init``
  and ``|Q_ij| ~ q_init/√r``, i.e. ``Q`` starts near the ``1e-6`` of the full-rank
  variant.  (A constant ``L`` would give identical columns that receive identical
  gradients and stay rank one forever.)
* **sparsity** — an ℓ1 penalty on the learned affinity, :meth:`AffinityModulation.l1`,
  added to the loss by the caller (weight ``1e-6`` was best in the paper, Table 2).
"""

from __future__ import annotations

import math

import torch
from torch import nn

__all__ = [
    "AFFINITY_VARIANTS",
    "SYMMETRY_MODES",
    "AffinityModulation",
    "check_adjacency",
    "off_diagonal_mask",
]

AFFINITY_VARIANTS = ("skeleton", "mul", "add", "mix", "no_skeleton")
SYMMETRY_MODES = ("affinity", "modulation", "none")


def check_adjacency(adjacency: torch.Tensor, owner: str, dtype: torch.dtype | None = None) -> torch.Tensor:
    """Validate a ``[J, J]`` adjacency and return a detached copy to store as a buffer.

    The copy has ``dtype`` if given, else the adjacency's own floating dtype, and float32
    for a boolean or integer matrix (or a nested list) — never the global default dtype,
    so that a network's buffers do not depend on ``torch.set_default_dtype`` at build time
    (``.to()`` / ``.double()`` convert them with the parameters).
    """
    if not isinstance(adjacency, torch.Tensor):
        adjacency = torch.as_tensor(adjacency)
    if adjacency.dim() != 2 or adjacency.shape[0] != adjacency.shape[1]:
        raise ValueError(
            f"{owner}: adjacency must be a square [J, J] matrix, got shape {tuple(adjacency.shape)}"
        )
    if dtype is None:
        dtype = adjacency.dtype if adjacency.is_floating_point() else torch.float32
    return adjacency.detach().to(dtype, copy=True)


def off_diagonal_mask(adjacency: torch.Tensor) -> torch.Tensor:
    """``1 − I`` of the adjacency's size and dtype: selects the neighbour terms of a decoupled layer."""
    j = adjacency.shape[0]
    return 1.0 - torch.eye(j, dtype=adjacency.dtype, device=adjacency.device)


def _symmetry_mode(symmetric: bool | str) -> str:
    if symmetric is True:
        return "affinity"
    if symmetric is False:
        return "none"
    if symmetric in SYMMETRY_MODES:
        return symmetric
    raise ValueError(f"symmetric must be True, False or one of {SYMMETRY_MODES}, got {symmetric!r}")


class AffinityModulation(nn.Module):
    r"""The learnable affinity ``Â`` of one graph layer (Modulated GCN Eq. 6–9).

    Calling the module returns the affinity the layer really uses (after the
    variant, the low-rank parametrisation and the symmetrisation).

    Shapes:
        ``() → [J, J]``

    Parameters (depending on ``variant``):
        ``P`` ``(J, J)`` for ``"mul"``/``"mix"``, init 1;
        ``Q`` ``(J, J)`` for ``"add"``/``"mix"``/``"no_skeleton"``, init ``q_init`` (the
        original ``adj2``), or ``L`` ``(J, r)`` instead when ``low_rank=r``.

    Args:
        adjacency: the fixed skeleton affinity ``A`` ``[J, J]`` (kept as a buffer).
        variant: one of :data:`AFFINITY_VARIANTS`.
        symmetric: ``True``/``"affinity"`` (original code), ``"modulation"`` (paper),
            ``False``/``"none"``.
        low_rank: rank ``r`` of ``Q = L Lᵀ``; ``None`` for a full matrix.
        q_init: initial value of ``Q`` (1e-6 in the original code).
    """

    def __init__(
        self,
        adjacency: torch.Tensor,
        variant: str = "add",
        symmetric: bool | str = True,
        low_rank: int | None = None,
        q_init: float = 1e-6,
    ) -> None:
        super().__init__()
        if variant not in AFFINITY_VARIANTS:
            raise ValueError(f"unknown affinity variant {variant!r}; expected one of {AFFINITY_VARIANTS}")
        adjacency = check_adjacency(adjacency, type(self).__name__)
        j = adjacency.shape[0]
        self.variant = variant
        self.symmetry = _symmetry_mode(symmetric)
        self.low_rank = low_rank
        self.q_init = q_init
        self.register_buffer("adjacency", adjacency)
        self.has_p = variant in ("mul", "mix")
        self.has_q = variant in ("add", "mix", "no_skeleton")
        if low_rank is not None:
            if not self.has_q:
                raise ValueError(f"low_rank needs a learned Q; affinity variant {variant!r} has none")
            if not 1 <= low_rank <= j:
                raise ValueError(f"low_rank must be in [1, J={j}], got {low_rank}")
        self.P = nn.Parameter(torch.empty(j, j)) if self.has_p else None
        self.Q = nn.Parameter(torch.empty(j, j)) if self.has_q and low_rank is None else None
        self.L = nn.Parameter(torch.empty(j, low_rank)) if self.has_q and low_rank is not None else None
        self.reset_parameters()

    @property
    def num_joints(self) -> int:
        return self.adjacency.shape[0]

    @torch.no_grad()
    def reset_parameters(self) -> None:
        if self.P is not None:
            self.P.fill_(1.0)
        if self.Q is not None:
            self.Q.fill_(self.q_init)
        if self.L is not None:
            self.L.normal_(0.0, math.sqrt(self.q_init / self.L.shape[1]))

    def modulation(self) -> torch.Tensor | None:
        """The additive learned matrix ``Q`` (``L Lᵀ`` for low rank), ``None`` if the variant has none."""
        if self.L is not None:
            return self.L @ self.L.T
        return self.Q

    def learned_affinity(self) -> torch.Tensor | None:
        """The learnable part of ``Â`` before symmetrisation: ``A⊙P`` (mul), ``Q`` (add,
        no_skeleton), ``A⊙P + Q`` (mix); ``None`` for the fixed skeleton."""
        q = self.modulation()
        p = self.P
        if self.symmetry == "modulation":
            q = None if q is None else (q + q.T) / 2
            p = None if p is None else (p + p.T) / 2
        if self.variant == "mul":
            return self.adjacency * p
        if self.variant == "mix":
            return self.adjacency * p + q
        return q  # add / no_skeleton: Q; skeleton: None

    def forward(self) -> torch.Tensor:
        learned = self.learned_affinity()
        if self.variant == "skeleton":
            a = self.adjacency
        elif self.variant == "add":
            a = self.adjacency + learned
        else:  # mul, mix, no_skeleton: the learned part is the whole affinity
            a = learned
        if self.symmetry == "affinity":
            a = (a + a.T) / 2
        return a

    def l1(self) -> torch.Tensor:
        """ℓ1 norm of :meth:`learned_affinity` (0 for the fixed skeleton) — the sparsity regulariser."""
        learned = self.learned_affinity()
        if learned is None:
            return self.adjacency.new_zeros(())
        return learned.abs().sum()

    def extra_repr(self) -> str:
        s = f"num_joints={self.num_joints}, variant={self.variant!r}, symmetric={self.symmetry!r}"
        if self.low_rank is not None:
            s += f", low_rank={self.low_rank}"
        return s
