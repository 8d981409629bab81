"""Training objectives (Pyro ELBOs), one per file, registered in :data:`OBJECTIVES`."""

from .base import OBJECTIVES
from .meanfield import meanfield
from .trace import trace

__all__ = sorted(["OBJECTIVES", "meanfield", "trace"])
