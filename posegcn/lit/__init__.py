"""The LightningModule of posegcn and the optimiser/schedule classes its configs name."""

from posegcn.lit.module import PoseLiftingModule
from posegcn.lit.optim import Adam, StaircaseLR

__all__ = ["Adam", "PoseLiftingModule", "StaircaseLR"]
