"""Load state dicts of the original SemGCN / Modulated GCN code into posegcn's networks.

posegcn keeps the original parameter layout (``W (2, C_in, C_out)``, ``M``, ``e``,
``Q`` = the original ``adj2``) and module names (``gconv_input``, ``gconv_layers``,
``gconv1``/``gconv2``, ``gconv``, ``bn``, ``gconv_output``, ``non_local``), so a
checkpoint maps over by a few renames:

==========================================  ===================================
original                                    posegcn
==========================================  ===================================
``….adj2``                                  ``….affinity.Q``
``gconv_*.k.nonlocal.<x>`` (SemGCN)         ``gconv_*.k.<x>``
``gconv_*.k.non_local.<x>`` (Mod. GCN GT)   ``gconv_*.k.<x>``
``….g.0.*`` / ``….phi.0.*``                 ``….g.*`` / ``….phi.*`` (sub-sampled)
``….W.0.*`` / ``….W.1.*`` (non-local)       ``….w_z.*`` / ``….bn.*``
``….concat_project.0.weight``               ``….concat_project.weight``
``module.…`` (``nn.DataParallel``)          ``…``
==========================================  ===================================

and 1×1-convolution weights ``[C_out, C_in, 1(, 1)]`` are reshaped to linear
weights.  SemGCN's wrapper attribute is ``nonlocal`` (its code is Python 2.7, where
that is not a keyword); Modulated GCN's is ``non_local``.  The fixed adjacency was
not part of the original state dicts; it is rebuilt from the skeleton.

Files: SemGCN and the Modulated GCN GT code save
``{'epoch', 'lr', 'step', 'state_dict', 'optimizer', 'error'}`` (``main_gcn.py``);
the Modulated GCN CPN code saves the bare state dict.  Both are accepted.

Mismatches raise :class:`OriginalCheckpointError`, one line naming the file, the
offending keys and what the checkpoint looks like (architecture, joints, channels,
blocks, non-local) next to what the model is.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace

import torch
from torch import nn

from posegcn.errors import PoseGCNInputError
from posegcn.models.modgcn import ModulatedGCN
from posegcn.models.semgcn import SemGCN

__all__ = [
    "OriginalCheckpointError",
    "OriginalLayout",
    "convert_original_state_dict",
    "describe_original",
    "load_original_state_dict",
    "original_weights",
]

_RULES = (
    (re.compile(r"^module\."), ""),  # nn.DataParallel prefix
    (re.compile(r"\.adj2$"), ".affinity.Q"),
    (re.compile(r"^(gconv_\w+\.\d+)\.(nonlocal|non_local)\."), r"\1."),
    (re.compile(r"(^|\.)(g|phi)\.0\.(weight|bias)$"), r"\1\2.\3"),
    (re.compile(r"(^|\.)W\.0\.(weight|bias)$"), r"\1w_z.\2"),
    (re.compile(r"(^|\.)W\.1\."), r"\1bn."),
    (re.compile(r"(^|\.)concat_project\.0\.weight$"), r"\1concat_project.weight"),
)

#: Networks whose original code exists, by the class posegcn uses for them.
_ARCHITECTURES = {SemGCN: "SemGCN", ModulatedGCN: "Modulated GCN"}
#: Names listed in one error message before "… and N more".
_MAX_LISTED = 4


class OriginalCheckpointError(PoseGCNInputError):
    """An original checkpoint does not fit the network it is loaded into (message: one line).

    A ``ValueError``; the ``posegcn`` command prints it as ``posegcn: error: …`` (:mod:`posegcn.errors`).
    """


@dataclass(frozen=True)
class OriginalLayout:
    """What a state dict (in posegcn's key names) holds: enough to tell two networks apart."""

    architecture: str | None  # "SemGCN", "Modulated GCN" or None (not recognised)
    num_joints: int | None
    hidden: int | None
    num_blocks: int
    non_local: str | None  # "grouped" (SemGCN §3.3), "embedded Gaussian" (Mod. GCN CPN) or None

    def __str__(self) -> str:
        parts = [
            f"{self.num_joints} joints" if self.num_joints else "joints unknown",
            f"{self.hidden} channels" if self.hidden else "channels unknown",
            f"{self.num_blocks} blocks",
            f"{self.non_local} non-local" if self.non_local else "no non-local",
        ]
        return f"{self.architecture or 'unrecognised network'} ({', '.join(parts)})"


def original_weights(checkpoint: Mapping, source: str = "original checkpoint") -> dict[str, torch.Tensor]:
    """The state dict inside an original checkpoint (``checkpoint["state_dict"]``, or the bare dict).

    A posegcn / Lightning checkpoint (``hyper_parameters``, ``net.`` keys) is refused: it needs
    no conversion.
    """
    if not isinstance(checkpoint, Mapping):
        raise OriginalCheckpointError(
            f"{source}: expected a dict of weights or {{'state_dict': …}}, found {type(checkpoint).__name__}"
        )
    if "hyper_parameters" in checkpoint or "pytorch-lightning_version" in checkpoint:
        raise OriginalCheckpointError(
            f"{source} is a Lightning checkpoint already (it has hyper_parameters): give it to "
            "--ckpt_path directly, no conversion needed"
        )
    weights = checkpoint.get("state_dict", checkpoint)
    if not isinstance(weights, Mapping):
        raise OriginalCheckpointError(f"{source}: 'state_dict' is a {type(weights).__name__}, not a dict")
    tensors = {k: v for k, v in weights.items() if isinstance(v, torch.Tensor)}
    if not tensors:
        raise OriginalCheckpointError(
            f"{source}: no weights found (keys: {_listing(sorted(map(str, weights)))}); expected an original "
            "SemGCN / Modulated GCN checkpoint"
        )
    if any(k.startswith("net.") for k in tensors):
        raise OriginalCheckpointError(
            f"{source} holds posegcn weights ('net.' keys), not original ones: no conversion needed"
        )
    return tensors


def convert_original_state_dict(state_dict: Mapping) -> dict[str, torch.Tensor]:
    """Rename the keys of an original SemGCN / Modulated GCN state dict (values unchanged).

    Accepts the whole checkpoint dict as saved by the original ``main_gcn.py``
    (the weights under ``"state_dict"``) or the bare state dict.
    """
    return {_rename(key): value for key, value in original_weights(state_dict).items()}


def _rename(key: str) -> str:
    for pattern, repl in _RULES:
        key = pattern.sub(repl, key)
    return key


def describe_original(state_dict: Mapping) -> OriginalLayout:
    """Architecture, joints, channels, blocks and non-local kind of an original state dict."""
    return _describe(convert_original_state_dict(state_dict), architecture=None)


def _describe(weights: Mapping[str, torch.Tensor], architecture: str | None) -> OriginalLayout:
    """Read the layout from posegcn key names; ``architecture=None`` guesses it from the keys.

    SemGCN layers own the edge weights ``e``, Modulated GCN layers ``M`` and ``Q``.  A SemGCN
    ``e`` has one entry per non-zero of ``A + I``, ``3J − 2`` on a tree skeleton of ``J`` joints.
    """
    first = "gconv_input.0.gconv."
    if architecture is None:
        if any(k.endswith(".e") for k in weights):
            architecture = "SemGCN"
        elif any(k.endswith((".M", ".affinity.Q")) for k in weights):
            architecture = "Modulated GCN"
    num_joints = None
    if first + "M" in weights:
        num_joints = weights[first + "M"].shape[0]
    elif first + "affinity.Q" in weights:
        num_joints = weights[first + "affinity.Q"].shape[0]
    elif first + "e" in weights and (weights[first + "e"].shape[-1] + 2) % 3 == 0:
        num_joints = (weights[first + "e"].shape[-1] + 2) // 3
    hidden = weights[first + "W"].shape[-1] if first + "W" in weights else None
    blocks = {m.group(1) for k in weights if (m := re.match(r"gconv_layers\.(\d+)\.gconv1\.", k))}
    non_local = None
    if any(k.startswith("gconv_input.1.") for k in weights):
        non_local = "grouped"
    elif any(k.startswith("non_local.") for k in weights):
        non_local = "embedded Gaussian"
    return OriginalLayout(architecture, num_joints, hidden, len(blocks), non_local)


def _listing(names: list[str]) -> str:
    shown = ", ".join(names[:_MAX_LISTED])
    return shown + (f" … and {len(names) - _MAX_LISTED} more" if len(names) > _MAX_LISTED else "")


def _fits(found: torch.Size, expected: torch.Size) -> bool:
    """Same shape, or a 1×1 convolution weight (trailing singleton dims) of the expected linear weight."""
    n = len(expected)
    return found == expected or (len(found) > n and found[:n] == expected and all(d == 1 for d in found[n:]))


def load_original_state_dict(
    model: nn.Module, state_dict: Mapping, source: str = "original checkpoint"
) -> nn.Module:
    """Load an original checkpoint into ``model`` (a :class:`~posegcn.models.SemGCN` or
    :class:`~posegcn.models.ModulatedGCN` built with the matching settings).

    Every entry of the model's state dict must come from the checkpoint (BatchNorm running
    statistics included) except the fixed adjacency buffers, and every checkpoint entry must
    have a place in the model.  Raises :class:`OriginalCheckpointError` (a ``ValueError``) naming
    ``source``, the keys and the two layouts: a checkpoint of the other architecture, unknown
    or missing keys, or shapes that differ (other channels or number of joints).
    """
    network = _ARCHITECTURES.get(type(model))
    if network is None:
        raise OriginalCheckpointError(
            f"{source}: original checkpoints exist for SemGCN and Modulated GCN only, the model is a "
            f"{type(model).__name__}"
        )
    original = original_weights(state_dict, source)
    converted = {_rename(key): value for key, value in original.items()}
    original_name = {_rename(key): key for key in original}
    target = model.state_dict()
    found = _describe(converted, None)
    expected = replace(_describe(target, network), num_joints=model.num_joints)
    layouts = f"(checkpoint: {found}; model: {expected})"
    if found.architecture is not None and found.architecture != network:
        raise OriginalCheckpointError(
            f"{source} is an original {found} checkpoint, but the model is a {expected}: use a "
            f"{found.architecture} config"
        )
    unknown = sorted(original_name[k] for k in set(converted) - set(target))
    if unknown:
        raise OriginalCheckpointError(
            f"{source}: {len(unknown)} key(s) unknown to {type(model).__name__}: {_listing(unknown)} {layouts}"
        )
    # the fixed adjacency was a plain attribute in the original code: rebuilt from the skeleton
    missing = [k for k in target if k not in converted and not k.endswith("adjacency")]  # model order
    if missing:
        raise OriginalCheckpointError(
            f"{source}: {len(missing)} weight(s) of {type(model).__name__} missing from the checkpoint: "
            f"{_listing(missing)} {layouts}"
        )
    wrong = []
    for key, value in target.items():  # model order: the first graph layer's W comes first
        if key in converted and not _fits(converted[key].shape, value.shape):
            found_shape, expected_shape = tuple(converted[key].shape), tuple(value.shape)
            wrong.append(f"{original_name[key]} is {found_shape}, the model expects {expected_shape}")
    if wrong:
        raise OriginalCheckpointError(
            f"{source}: {len(wrong)} weight(s) of another shape: {'; '.join(wrong[:_MAX_LISTED])}"
            f"{f' … and {len(wrong) - _MAX_LISTED} more' if len(wrong) > _MAX_LISTED else ''} {layouts}"
        )
    for key, value in converted.items():
        target[key] = value.reshape(target[key].shape).to(target[key].dtype)  # 1×1 conv → linear
    model.load_state_dict(target)
    return model
