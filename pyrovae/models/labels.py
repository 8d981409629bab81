"""Labels as network inputs: the one-hot code shared by the label-aware kinds (M2, the CVAE)."""

import torch

from ..errors import ConfigError, DataError

__all__ = ["check_label_options", "check_labelled", "label_probabilities", "label_tensor",
           "one_hot", "with_label"]


def one_hot(y, num_classes, dtype):
    """One-hot rows of labels ``y`` by comparison with 0..K−1: unlike ``F.one_hot`` it reads no
    value back to check the range (the labels were checked when the data were loaded), so a
    step can be traced (:mod:`pyrovae.compiled`)."""
    return (y.unsqueeze(-1) == torch.arange(num_classes, device=y.device)).to(dtype)


def label_tensor(y, n, device):
    """``y`` as ``n`` int64 labels on ``device``: a tensor as it is, an int repeated ``n``
    times (``sample --class K``)."""
    if torch.is_tensor(y):
        return y
    return torch.full((n,), int(y), dtype=torch.long, device=device)


def with_label(h, y, num_classes):
    """``[h, onehot(y)]`` on the last axis, broadcasting their batch dimensions (an enumerated
    ``y`` of shape ``(K, 1)`` against ``h`` of shape ``(B, F)`` gives ``(K, B, F + K)``)."""
    onehot = one_hot(y, num_classes, h.dtype)
    batch = torch.broadcast_shapes(h.shape[:-1], onehot.shape[:-1])
    return torch.cat([h.expand(*batch, -1), onehot.expand(*batch, -1)], dim=-1)


def check_labelled(dataset, num_classes, kind):
    """Raise :class:`~pyrovae.errors.DataError` unless ``dataset`` has training labels with
    ``num_classes`` classes, as the ``kind`` model (trained with them) needs."""
    if dataset.num_classes is None or dataset.train.y is None:
        raise DataError(
            f"the {kind} model needs a labelled data set, but '{dataset.name}' has no labels"
        )
    if dataset.num_classes != num_classes:
        raise DataError(
            f"'{dataset.name}' has {dataset.num_classes} classes but the model "
            f"{num_classes}; use the data the model was trained on"
        )


def label_probabilities(label_prior, num_classes):
    """p(y) of a semi-supervised kind's ``label_prior`` option: ``"uniform"`` or K class
    probabilities (a tensor of the default dtype); a count that is not K is refused."""
    k = int(num_classes)
    if label_prior == "uniform":
        return torch.full((k,), 1.0 / k)
    probs = torch.as_tensor(label_prior, dtype=torch.get_default_dtype())
    if probs.shape != (k,):
        raise DataError(f"model.label_prior has {probs.numel()} probabilities but the data have "
                        f"{k} classes; give {k} or use \"uniform\"")
    return probs


def check_label_options(options):
    """The config checks of a semi-supervised kind's options (``[model]``, edited in place):
    ``label_prior`` is ``"uniform"`` or a list of positive class probabilities that sums to 1
    (stored as floats); ``alpha`` ≥ 0."""
    prior = options.get("label_prior", "uniform")
    if prior != "uniform":
        ok = isinstance(prior, list) and len(prior) > 1 and all(
            isinstance(p, (int, float)) and not isinstance(p, bool) and p > 0 for p in prior)
        if not ok or abs(sum(prior) - 1) > 1e-6:
            raise ConfigError(
                "model.label_prior must be \"uniform\" or a list of positive class "
                f"probabilities summing to 1, got {prior!r}; e.g. "
                "model.label_prior = [0.5, 0.5]"
            )
        options["label_prior"] = [float(p) for p in prior]
    if not options.get("alpha", 1.0) >= 0:
        raise ConfigError(f"model.alpha must be zero or positive, got {options['alpha']!r}")
