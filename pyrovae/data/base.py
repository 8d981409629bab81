"""The containers every data set is loaded into.

A source (``pyrovae.data.sources``) returns :class:`RawData`: plain arrays, as close to the files
as possible. :func:`pyrovae.data.load_dataset` turns that into a :class:`DataSet`: three
:class:`Split` s of float32 tensors in the value range the model sees, validated once, so that the
rest of pyrovae never has to check its data again.
"""

from dataclasses import dataclass, replace

import torch

from ..errors import DataError
from ..registry import closest
from .batcher import Batcher
from .labels import SemiSupervisedBatcher

__all__ = ["DataSet", "RawData", "Split", "SPLITS"]

SPLITS = ("train", "valid", "test")


@dataclass
class RawData:
    """What a source returns: numpy arrays or torch tensors, first axis = examples.

    Only ``x_train`` is required. A source without a fixed split fills only ``x_train`` (and
    ``y_train``); :func:`~pyrovae.data.load_dataset` carves out whatever split is missing. Value
    conventions (applied by the loader, so sources can stay close to their files): ``uint8`` arrays
    are grey levels 0..255 and are scaled by 1/255, ``bool`` becomes 0/1, float and other integer
    arrays keep their values (as float32, whatever their width, byte order or memory order).
    Shapes ``(N, D)``, ``(N, H, W)`` (gets one channel) and ``(N, C, H, W)`` with any number of
    channels are accepted, every axis after the first of length at least 1; a source returns
    channels-first images (user array files are moved there by
    :mod:`pyrovae.data.arrays`). Labels are integer arrays of shape ``(N,)`` (any integer dtype,
    values 0..K-1).
    """

    x_train: object
    y_train: object = None
    x_valid: object = None
    y_valid: object = None
    x_test: object = None
    y_test: object = None


@dataclass
class Split:
    """One split of a data set.

    :ivar torch.Tensor x: float32, shape ``(N, *event_shape)``, values as the model sees them.
    :ivar y: int64 labels of shape ``(N,)``, or ``None`` for unlabelled data.
    """

    x: torch.Tensor
    y: torch.Tensor | None = None

    def __len__(self) -> int:
        return self.x.shape[0]

    def to(self, device: str | torch.device) -> "Split":
        """This split with its tensors on ``device``."""
        return Split(self.x.to(device), None if self.y is None else self.y.to(device))


@dataclass
class DataSet:
    """A loaded, validated data set: train, valid and test splits plus what models need to know.

    :ivar str name: the name it was loaded under (a registry name or a file path).
    :ivar tuple event_shape: shape of one example, e.g. ``(1, 28, 28)`` or ``(D,)``.
    :ivar num_classes: number of classes if the data has labels, else ``None``.
    :ivar str binarize: ``"none"``, ``"static"`` or ``"dynamic"`` (the training loop re-draws the
        grey-level train split every epoch with :class:`~pyrovae.data.Batcher`).
    :ivar labelled: for semi-supervised training, the sorted indices of the training examples
        whose labels are kept (:func:`~pyrovae.data.labels.choose_labels`); ``None`` keeps every
        label there is.
    :ivar train_std: ``None``, or per-example standard deviations shaped like ``train.x``: the
        training batches then draw every example afresh from N(train.x, train_std²) each epoch
        (M1+M2 with ``data.features_draw = "sample"``, :mod:`pyrovae.data.features`); the
        valid and test splits stay as they are.
    """

    name: str
    train: Split
    valid: Split
    test: Split
    event_shape: tuple[int, ...]
    num_classes: int | None = None
    binarize: str = "none"
    labelled: torch.Tensor | None = None
    train_std: torch.Tensor | None = None

    def split(self, name: str) -> Split:
        """The split called ``name`` (``"train"``, ``"valid"`` or ``"test"``)."""
        if name not in SPLITS:
            raise DataError(
                f"unknown split '{name}'{closest(name, SPLITS)}; choose one of: {', '.join(SPLITS)}"
            )
        return getattr(self, name)

    def to(self, device: str | torch.device) -> "DataSet":
        """A copy of this data set with every tensor moved to ``device``."""
        std = None if self.train_std is None else self.train_std.to(device)
        return replace(self, train_std=std, **{s: getattr(self, s).to(device) for s in SPLITS})

    def batches(self, batch_size: int, seed: int, labelled_every: int = 1,
                labelled_batch: int = 0) -> Batcher | SemiSupervisedBatcher:
        """The training batches, a re-iterable of ``(x, y)`` (``y`` ``None`` where there are no
        labels, or for an unlabelled batch); each pass is one epoch, and the same ``seed`` gives
        the same sequence of epochs. The data layer decides everything about them: the order,
        the dynamic binarization (or the Gaussian draws of :attr:`train_std`) and, when only
        some labels are kept, labelled batches
        interleaved with unlabelled ones (:class:`~pyrovae.data.labels.SemiSupervisedBatcher`;
        one labelled batch before every ``labelled_every`` unlabelled ones; or, with
        ``labelled_batch`` > 0, ``labelled_batch`` labelled rows in front of every unlabelled
        batch, as the ADGM's published code draws them).
        """
        dynamic = self.binarize == "dynamic"
        if self.labelled is None:
            return Batcher(self.train.x, self.train.y, batch_size=batch_size, shuffle=True,
                           dynamic_binarize=dynamic, noise_std=self.train_std, seed=seed)
        keep = torch.zeros(len(self.train), dtype=torch.bool)
        keep[self.labelled.cpu()] = True
        unlabelled = torch.arange(len(self.train))[~keep]
        return SemiSupervisedBatcher(self.train.x, self.train.y, self.labelled.cpu(), unlabelled,
                                     batch_size=batch_size, dynamic_binarize=dynamic,
                                     noise_std=self.train_std, seed=seed,
                                     labelled_every=labelled_every,
                                     labelled_batch=labelled_batch)

    def __repr__(self):
        sizes = "/".join(str(len(getattr(self, s))) for s in SPLITS)
        return (
            f"DataSet({self.name!r}, train/valid/test={sizes}, event_shape={self.event_shape}, "
            f"num_classes={self.num_classes}, binarize={self.binarize!r}"
            + ("" if self.labelled is None else f", labelled={len(self.labelled)}") + ")"
        )

