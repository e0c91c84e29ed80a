"""LightningModules: one per architecture, sharing :class:`PoseLiftingModule`."""

from posegcn.lit.base import PoseLiftingModule
from posegcn.lit.modgcn import ModulatedGCNModule
from posegcn.lit.semgcn import SemGCNModule

__all__ = ["PoseLiftingModule", "SemGCNModule", "ModulatedGCNModule"]
