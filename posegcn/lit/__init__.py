"""LightningModules: one per architecture, sharing :class:`PoseLiftingModule`."""

from posegcn.lit.base import PoseLiftingModule
from posegcn.lit.dgnet import DGNetModule
from posegcn.lit.modgcn import ModulatedGCNModule
from posegcn.lit.semgcn import SemGCNModule

__all__ = ["DGNetModule", "ModulatedGCNModule", "PoseLiftingModule", "SemGCNModule"]
