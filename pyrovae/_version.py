"""The version of pyrovae (read by the package, its checkpoints and its wheel)."""

__version__ = "0.1.0"
