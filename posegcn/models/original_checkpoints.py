"""Load state dicts of the original SemGCN / Modulated GCN code into posegcn's networks.

posegcn keeps the original parameter layout (``W (2, C_in, C_out)``, ``M``, ``e``,
``Q`` = the original ``adj2``) and module names (``gconv_input``, ``gconv_layers``,
``gconv1``/``gconv2``, ``gconv``, ``bn``, ``gconv_output``, ``non_local``), so a
checkpoint maps over by a few renames:

=====================================  ===================================
original                               posegcn
=====================================  ===================================
``….adj2``                             ``….affinity.Q``
``gconv_*.k.non_local.<x>``            ``gconv_*.k.<x>`` (SemGCN wrapper)
``….g.0.*`` / ``….phi.0.*``            ``….g.*`` / ``….phi.*`` (sub-sampled)
``….W.0.*`` / ``….W.1.*`` (non-local)  ``….w_z.*`` / ``….bn.*``
``….concat_project.0.weight``          ``….concat_project.weight``
=====================================  ===================================

and 1×1-convolution weights ``[C_out, C_in, 1(, 1)]`` are reshaped to linear
weights.  The fixed adjacency was not part of the original state dicts; it is
rebuilt from the skeleton.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import torch
from torch import nn

__all__ = ["convert_original_state_dict", "load_original_state_dict"]

_RULES = (
    (re.compile(r"^module\."), ""),  # nn.DataParallel prefix
    (re.compile(r"\.adj2$"), ".affinity.Q"),
    (re.compile(r"^(gconv_\w+\.\d+)\.non_local\."), r"\1."),
    (re.compile(r"(^|\.)(g|phi)\.0\.(weight|bias)$"), r"\1\2.\3"),
    (re.compile(r"(^|\.)W\.0\.(weight|bias)$"), r"\1w_z.\2"),
    (re.compile(r"(^|\.)W\.1\."), r"\1bn."),
    (re.compile(r"(^|\.)concat_project\.0\.weight$"), r"\1concat_project.weight"),
)


def convert_original_state_dict(state_dict: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Rename the keys of an original SemGCN / Modulated GCN state dict (values unchanged).

    Accepts the whole checkpoint dict as saved by the original ``main_gcn.py``
    (the weights under ``"state_dict"``) or the bare state dict.
    """
    if "state_dict" in state_dict and isinstance(state_dict["state_dict"], Mapping):
        state_dict = state_dict["state_dict"]
    out = {}
    for key, value in state_dict.items():
        for pattern, repl in _RULES:
            key = pattern.sub(repl, key)
        out[key] = value
    return out


def load_original_state_dict(model: nn.Module, state_dict: Mapping[str, torch.Tensor]) -> nn.Module:
    """Load an original checkpoint into ``model`` (a :class:`~posegcn.models.SemGCN` or
    :class:`~posegcn.models.ModulatedGCN` built with the matching settings).

    Raises ``KeyError`` naming unexpected or missing parameters, ``ValueError`` on a
    shape mismatch (e.g. a 17-joint checkpoint into a 16-joint model).
    """
    converted = convert_original_state_dict(state_dict)
    target = model.state_dict()
    unexpected = sorted(set(converted) - set(target))
    params = {name for name, _ in model.named_parameters()}
    missing = sorted(params - set(converted))
    if unexpected or missing:
        raise KeyError(
            f"original checkpoint does not match {type(model).__name__}: unexpected {unexpected}, missing {missing}"
        )
    for key, value in converted.items():
        if value.numel() != target[key].numel():
            raise ValueError(
                f"original checkpoint: {key!r} has shape {tuple(value.shape)}, the model expects "
                f"{tuple(target[key].shape)} (other hidden size or number of joints?)"
            )
        target[key] = value.reshape(target[key].shape)  # 1×1 conv → linear
    model.load_state_dict(target)
    return model
