"""Initialisation schemes of the original SemGCN / Modulated GCN codes.

Both original codes store the decoupled self/neighbour weights of a graph layer as
one tensor ``W`` of shape ``(2, C_in, C_out)`` and call
``nn.init.xavier_uniform_(W, gain=1.414)`` on the whole 3-D tensor.  PyTorch then
computes the fans from the 3-D shape (``fan_in = C_in·C_out``, ``fan_out = 2·C_out``),
which gives bounds about ``√C_in`` times smaller than Glorot & Bengio's per-matrix
rule (0.027 instead of 0.22 at 128 channels).  This is what the published numbers
were trained with, so it is the default here; :func:`xavier_uniform_per_matrix_`
is the textbook alternative (the papers cite Glorot & Bengio).
"""

from __future__ import annotations

import math

import torch
from torch import nn

__all__ = [
    "GAIN",
    "WEIGHT_INITS",
    "xavier_uniform_original_",
    "xavier_uniform_per_matrix_",
    "init_graph_weight_",
    "uniform_bias_",
]

#: The gain both original codes pass to ``xavier_uniform_`` (≈ √2, the ReLU gain).
GAIN = 1.414

#: Names accepted by :func:`init_graph_weight_`.
WEIGHT_INITS = ("original", "per_matrix")


@torch.no_grad()
def xavier_uniform_original_(weight: torch.Tensor, gain: float = GAIN) -> torch.Tensor:
    """Xavier-uniform over the whole ``(2, C_in, C_out)`` tensor, exactly as the original codes.

    The fans come from the 3-D shape (``fan_in = C_in·C_out``, ``fan_out = 2·C_out``).
    """
    return nn.init.xavier_uniform_(weight, gain=gain)


@torch.no_grad()
def xavier_uniform_per_matrix_(weight: torch.Tensor, gain: float = GAIN) -> torch.Tensor:
    """Glorot & Bengio per ``[C_in, C_out]`` matrix: bound ``gain·√(6/(C_in+C_out))`` on ``[..., C_in, C_out]``."""
    fan_in, fan_out = weight.shape[-2], weight.shape[-1]
    bound = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return weight.uniform_(-bound, bound)


@torch.no_grad()
def init_graph_weight_(weight: torch.Tensor, scheme: str = "original", gain: float = GAIN) -> torch.Tensor:
    """Initialise a graph-convolution weight ``(2, C_in, C_out)`` in place (views allowed).

    ``scheme="original"`` applies :func:`xavier_uniform_original_`, ``"per_matrix"``
    :func:`xavier_uniform_per_matrix_`.
    """
    if weight.dim() != 3 or weight.shape[0] != 2:
        raise ValueError(f"expected a graph weight of shape (2, C_in, C_out), got {tuple(weight.shape)}")
    if scheme == "original":
        return xavier_uniform_original_(weight, gain)
    if scheme == "per_matrix":
        return xavier_uniform_per_matrix_(weight, gain)
    raise ValueError(f"unknown weight init {scheme!r}; expected one of {WEIGHT_INITS}")


@torch.no_grad()
def uniform_bias_(bias: torch.Tensor, fan: int) -> torch.Tensor:
    """``U(−1/√fan, 1/√fan)``; the original codes use ``fan = C_out`` (``W.size(2)``)."""
    stdv = 1.0 / math.sqrt(fan)
    return bias.uniform_(-stdv, stdv)
