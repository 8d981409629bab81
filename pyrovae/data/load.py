"""``load_dataset``: from a name to a validated :class:`~pyrovae.data.DataSet`.

This is the one place where data is checked (finite values, numeric dtype, integer labels of the
right length, non-empty splits, values in [0, 1] before binarizing), so bad data fails at load time
with a message saying what to fix, instead of as a NaN loss hours into training.

Splitting uses its own seed (``split_seed``), independent of the training seed: every training
run of a data set sees the same test set, so their scores are comparable.
"""

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .. import checks
from ..errors import ConfigError, DataError
from ..registry import plural
from .arrays import is_array_file, load_array_file
from .base import SPLITS, DataSet, RawData, Split
from .labels import choose_labels
from .registry import DATASETS

__all__ = ["BINARIZE_MODES", "binarize", "load_dataset"]

BINARIZE_MODES = ("none", "static", "dynamic")
#: the most classes a labelled data set may have (label K-1 sizes one-hot tensors and heads)
MAX_CLASSES = 10_000


def binarize(x, generator=None):
    """One Bernoulli draw per value: ``x`` holds probabilities in [0, 1], the result 0/1 floats of
    the same shape, dtype and device."""
    if x.numel() and (x.min() < 0 or x.max() > 1):
        raise DataError(
            f"cannot binarize values in [{x.min().item():g}, {x.max().item():g}]: "
            "binarization needs values in [0, 1]"
        )
    return torch.bernoulli(x, generator=generator)


#: torch has no (or only partial) support for these: tensors of them go through numpy
_UNUSUAL = tuple(getattr(torch, name) for name in ("uint16", "uint32", "uint64")
                 if hasattr(torch, name))
_SHAPES = "accepted shapes are (N, D), (N, H, W) and (N, C, H, W)"


def _check_shape(shape, what):
    """Refuse shapes that are no set of examples: 1-d or above 4-d, or examples of no values."""
    if len(shape) not in (2, 3, 4):
        hint = "; for one value per example save x.reshape(-1, 1)" if len(shape) == 1 else ""
        raise DataError(f"{what} has shape {tuple(shape)}; {_SHAPES}{hint}")
    if 0 in tuple(shape)[1:]:
        raise DataError(
            f"{what} has shape {tuple(shape)}: its examples of shape {tuple(shape)[1:]} hold "
            "no values; every axis after the first must have at least one entry"
        )


def _numpy_labels(a, what):
    """Integer labels -> int64 array of shape (N,); anything else is refused in one line."""
    kind = a.dtype.kind
    if kind == "b":
        raise DataError(
            f"{what} are booleans; labels must be integers (class indices 0, 1, ..., K-1): "
            "save them as y.astype(int)"
        )
    if kind == "f":
        fractional = a.size and bool(np.any(np.isfinite(a) & (a != np.floor(a))))
        raise DataError(
            f"{what} have dtype {a.dtype}"
            + (" with fractional values" if fractional else "")
            + "; labels must be integers (class indices 0, 1, ..., K-1)"
            + ("" if fractional else ": save them as y.astype(int)")
        )
    if kind not in "iu":
        raise DataError(
            f"{what} have dtype {a.dtype}; labels must be integers (class indices 0, 1, ..., "
            "K-1), e.g. np.unique(y, return_inverse=True)[1]"
        )
    if a.ndim != 1:
        hint = "; for one-hot labels save y.argmax(1)" if a.ndim == 2 and a.shape[1] > 1 else \
            "; save them as y.reshape(-1)"
        raise DataError(f"{what} have shape {a.shape}; labels must have shape (N,){hint}")
    if a.size and kind == "u" and a.max() > np.iinfo(np.int64).max:
        raise DataError(
            f"{what} go up to {int(a.max())}; labels must be class indices 0..K-1, e.g. "
            "np.unique(y, return_inverse=True)[1]"
        )
    if a.size and kind == "i" and a.min() < 0:
        raise DataError(f"{what} hold negative labels; labels must be 0, 1, ..., K-1")
    return a.astype(np.int64)  # a native-order copy: any width, byte order or layout


def _numpy_data(a, what):
    """Numeric examples -> a float32 C-contiguous native-order array (the loaded one itself
    when it already is one), with the value conventions of :class:`RawData`."""
    kind = a.dtype.kind
    if kind == "c":
        raise DataError(
            f"{what} has dtype {a.dtype}; data must be real numbers: save np.abs(x), x.real or "
            "both parts as channels"
        )
    if kind not in "biuf":
        raise DataError(f"{what} has dtype {a.dtype}; data must be numeric")
    _check_shape(a.shape, what)
    native = a.dtype == np.float32 and a.dtype.isnative
    if native and a.flags.c_contiguous and a.flags.writeable:
        return a
    out = np.empty(a.shape, np.float32)  # one copy, whatever the source's dtype and layout
    out[...] = a
    if a.dtype == np.uint8:
        np.divide(out, np.float32(255.0), out=out)
    return out


def _tensor(a, what, labels=False):
    """numpy array / tensor -> float32 (or int64 labels) CPU tensor, with the value conventions of
    :class:`RawData`."""
    if isinstance(a, torch.Tensor) and a.dtype in _UNUSUAL:
        a = a.detach().cpu().numpy()
    if not isinstance(a, torch.Tensor):
        a = np.asarray(a)
        if a.dtype.hasobject:
            raise DataError(f"{what} holds Python objects (dtype {a.dtype}); "
                            f"{'labels must be integers' if labels else 'data must be numeric'}")
        if labels:
            return torch.from_numpy(_numpy_labels(a, what))
        t = torch.from_numpy(_numpy_data(a, what))
    else:
        t = a.detach().cpu()
        if labels:
            if t.dtype.is_floating_point or t.dtype.is_complex or t.dtype == torch.bool:
                raise DataError(f"{what} have dtype {t.dtype}; labels must be integers "
                                "(class indices 0, 1, ..., K-1)")
            if t.dim() != 1:
                raise DataError(f"{what} have shape {tuple(t.shape)}; labels must have shape (N,)")
            if t.numel() and t.min() < 0:
                raise DataError(f"{what} hold negative labels; labels must be 0, 1, ..., K-1")
            return t.long()
        if t.dtype.is_complex:
            raise DataError(f"{what} has dtype {t.dtype}; data must be real numbers")
        _check_shape(t.shape, what)
        if t.dtype == torch.uint8:
            t = t.float().div_(255.0)
        elif t.dtype != torch.float32:
            t = t.float()
    if t.dim() == 3:
        t = t.unsqueeze(1)  # (N, H, W) -> (N, 1, H, W)
    return t


def _carve(x, y, fraction, generator, what, name):
    """Split ``(x, y)`` into ``(rest, carved)`` with ``round(fraction * N)`` carved examples."""
    n = len(x)
    k = int(round(fraction * n))
    if k < 1 or k >= n:
        raise DataError(
            f"{name} has {plural(n, 'training example')}, too few to carve out a {what} split of "
            f"{fraction:g} of them with at least one example left on each side; use a larger "
            f"data set or other fractions"
        )
    perm = torch.randperm(n, generator=generator)
    rest, cut = perm[k:], perm[:k]
    take = lambda t, i: None if t is None else t[i]  # noqa: E731
    return (x[rest], take(y, rest)), (x[cut], take(y, cut))


def _resolve(name, data_dir, options):
    if is_array_file(name):
        if options:
            raise ConfigError(f"data file {name} takes no options, got: {', '.join(options)}")
        path = Path(name).expanduser()
        if not path.is_absolute() and not path.exists() and data_dir is not None:
            if (data_dir / path).exists():
                path = data_dir / path
        return load_array_file(path)
    options = DATASETS.check_options(name, options, where="data")  # unknown -> did-you-mean
    source = DATASETS.get(name)
    raw = source(data_dir=None if data_dir is None else str(data_dir), **options)
    if not isinstance(raw, RawData):
        raise TypeError(f"dataset source '{name}' returned {type(raw).__name__}, not RawData")
    return raw


def _check_load_dataset(arguments):
    """The arguments of :func:`load_dataset`, by type and range (the fractions' sum, the
    source's options and the data themselves are checked as it loads them)."""
    where = "pyrovae.load_dataset"
    checks.path(arguments["name"], "name", where)
    checks.path(arguments["data_dir"], "data_dir", where, none=True)
    checks.choice(arguments["binarize"], "binarize", BINARIZE_MODES, where)
    checks.integer(arguments["seed"], "seed", where, minimum=0, maximum=2**32 - 1)
    checks.integer(arguments["split_seed"], "split_seed", where, minimum=0, maximum=2**32 - 1)
    checks.number(arguments["valid_fraction"], "valid_fraction", where)
    checks.number(arguments["test_fraction"], "test_fraction", where)
    checks.integer(arguments["labels"], "labels", where, minimum=0)
    options = arguments["options"]
    if options is not None and not isinstance(options, Mapping):
        raise ConfigError(f"{where}: options must be a dict of the source's options or None, "
                          f"got {checks.got(options)}")


@checks.arguments(_check_load_dataset, "pyrovae.load_dataset")
def load_dataset(
    name: str | os.PathLike[str],
    *,
    data_dir: str | os.PathLike[str] | None = None,
    binarize: str = "none",
    seed: int = 0,
    valid_fraction: float = 0.1,
    test_fraction: float = 0.2,
    split_seed: int = 0,
    labels: int = 0,
    options: Mapping[str, Any] | None = None,
) -> DataSet:
    """Load, split, validate and optionally binarize a data set.

    :param str name: a registered data set (see ``DATASETS.names()``) or a path ending in
        ``.npy``/``.npz``.
    :param data_dir: folder holding the files of a registered data set (``~`` is expanded); a
        relative array-file path is also looked up in it.
    :param str binarize: ``"none"``; ``"static"`` (every split drawn once from ``seed``);
        ``"dynamic"`` (train stays grey-level for :class:`~pyrovae.data.Batcher` to re-draw every
        epoch; valid and test are drawn once from ``split_seed`` so evaluation is deterministic).
    :param int seed: the training seed; only the static binarization uses it.
    :param float valid_fraction: fraction of the training data carved out as valid when the source
        has no valid split.
    :param float test_fraction: fraction carved out as test when the source has no test split
        (taken from the whole data before valid is carved from the rest).
    :param int split_seed: seed of the splitting permutation; independent of ``seed``.
    :param int labels: keep this many training labels, balanced over the classes and chosen
        with ``split_seed`` (:func:`~pyrovae.data.labels.choose_labels`), for semi-supervised
        training; 0 keeps every label.
    :param dict options: keyword options for the source.
    :returns: a :class:`~pyrovae.data.DataSet` of float32 CPU tensors.
    """
    for what, f in (("valid_fraction", valid_fraction), ("test_fraction", test_fraction)):
        if not 0 < f < 1:
            raise ConfigError(f"{what} must be between 0 and 1 (exclusive), got {f}")
    if valid_fraction + test_fraction >= 1:
        raise ConfigError(
            f"valid_fraction + test_fraction must be below 1, got {valid_fraction + test_fraction:g}"
        )
    name = str(name)
    data_dir = None if data_dir is None else Path(data_dir).expanduser()
    raw = _resolve(name, data_dir, dict(options or {}))

    splits = {}
    for s in SPLITS:
        x, y = getattr(raw, f"x_{s}"), getattr(raw, f"y_{s}")
        if x is None:
            if y is not None:
                raise DataError(f"{name}: labels for the {s} split but no data")
            continue
        x = _tensor(x, f"{s} data of {name}")
        y = None if y is None else _tensor(y, f"{s} labels of {name}", labels=True)
        if y is not None and len(y) != len(x):
            raise DataError(f"{name}: {s} split has {plural(len(x), 'example')} but "
                            f"{plural(len(y), 'label')}")
        splits[s] = (x, y)
    labelled = {s for s, (_, y) in splits.items() if y is not None}
    if labelled and labelled != set(splits):
        raise DataError(
            f"{name}: the {', '.join(sorted(labelled))} split(s) have labels but "
            f"{', '.join(sorted(set(splits) - labelled))} not; label all splits or none"
        )
    shapes = {s: tuple(x.shape[1:]) for s, (x, _) in splits.items()}
    if len(set(shapes.values())) > 1:
        raise DataError(f"{name}: the splits have different example shapes: {shapes}")

    generator = torch.Generator().manual_seed(split_seed)
    if "test" not in splits:
        splits["train"], splits["test"] = _carve(*splits["train"], test_fraction, generator,
                                                 "test", name)
    if "valid" not in splits:
        # valid_fraction of the original total when test was carved too, of train otherwise
        fraction = valid_fraction / (1 - test_fraction) if "test" not in shapes else valid_fraction
        splits["train"], splits["valid"] = _carve(*splits["train"], fraction, generator,
                                                  "valid", name)

    for s in SPLITS:
        x, _ = splits[s]
        if len(x) == 0:
            raise DataError(f"the {s} split of {name} is empty")
        bad = int((~torch.isfinite(x)).sum())
        if bad:
            raise DataError(
                f"{bad} NaN/inf values in {s} of {name}; clean or impute the data first"
            )

    if binarize != "none":
        for s in SPLITS:
            x = splits[s][0]
            lo, hi = x.min().item(), x.max().item()
            if lo < 0 or hi > 1:
                raise DataError(
                    f"binarize='{binarize}' needs values in [0, 1], but the {s} split of {name} "
                    f"spans [{lo:g}, {hi:g}]; rescale the data or use binarize='none'"
                )
        static = torch.Generator().manual_seed(seed)
        fixed = torch.Generator().manual_seed(split_seed)
        for s in SPLITS:
            if binarize == "dynamic" and s == "train":
                continue  # the Batcher draws a fresh binarization every epoch
            x, y = splits[s]
            splits[s] = (torch.bernoulli(x, generator=static if binarize == "static" else fixed), y)

    ys = [y for _, y in splits.values() if y is not None]
    num_classes = int(max(int(y.max()) for y in ys if y.numel()) + 1) if ys else None
    labelled_examples = sum(y.numel() for y in ys)
    if num_classes is not None and num_classes > min(labelled_examples, MAX_CLASSES):
        distinct = torch.cat(ys).unique().numel()
        raise DataError(
            f"{name}: labels go up to {num_classes - 1} ({distinct} distinct values in "
            f"{labelled_examples} examples); labels must be class indices 0..K-1 with K at most "
            f"the number of examples (and {MAX_CLASSES}); relabel them, e.g. "
            "np.unique(y, return_inverse=True)[1]"
        )
    labelled = None
    if labels:
        labelled, _ = choose_labels(splits["train"][1], labels, num_classes, split_seed)
    return DataSet(
        name=name,
        **{s: Split(*splits[s]) for s in SPLITS},
        event_shape=tuple(splits["train"][0].shape[1:]),
        num_classes=num_classes,
        binarize=binarize,
        labelled=labelled,
    )
