"""Training objectives (Pyro ELBOs), one per file, registered in :data:`OBJECTIVES`."""

from .base import OBJECTIVES
from .iwae import iwae
from .meanfield import meanfield
from .renyi import RenyiELBO, renyi
from .trace import trace

__all__ = ["OBJECTIVES", "RenyiELBO", "iwae", "meanfield", "renyi", "trace"]
