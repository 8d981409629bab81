"""The data set registry: ``DATASETS``.

Each entry is a function ``f(data_dir=None, **options) -> RawData`` whose docstring's first line
is what ``pyrovae list`` shows. ``data_dir`` is passed by pyrovae (``--data-dir``), not a config
key. Register your own with ``@DATASETS.register("name")``.
"""

from ..registry import Registry

__all__ = ["DATASETS"]

DATASETS = Registry("dataset", builder_args=("data_dir",))
