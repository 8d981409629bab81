"""The five sections of a config as dataclasses: every key, its default and what it means.

A component key (``prior``, ``train.optimizer``) holds a :class:`~pyrovae.registry.Component`
and names the registry it is resolved in (the field's ``registry`` metadata); ``[model]`` holds
the kind's own options in ``options``, read as attributes (``config.model.z_dim``).
"""

import dataclasses
from dataclasses import dataclass, field

from ..registry import Component

__all__ = ["Config", "DataConfig", "ModelConfig", "OutputConfig", "PluginsConfig",
           "TrainConfig", "section_fields"]


def _component(name, registry, **options):
    return field(
        default_factory=lambda: Component(name, dict(options)), metadata={"registry": registry}
    )


@dataclass
class DataConfig:
    """``[data]``: the data set.

    ``name`` is a registered data set (``pyrovae list``) or a path to a ``.npy``/``.npz`` file;
    ``dir`` is a folder holding it (empty: the download cache); ``binarize`` is ``"none"``,
    ``"static"`` (drawn once), ``"dynamic"`` (re-drawn every epoch) or ``"auto"`` (dynamic for
    a likelihood on {0, 1} such as ``bernoulli``, none for every other); the fractions apply to data
    sets without a fixed split, drawn with ``split_seed``. ``labels`` (for a kind that learns
    from labels, ``uses_labels``: ``m2``) keeps that many training labels, balanced over the
    classes and chosen with ``split_seed``; 0 keeps them all; ``labelled_every = N`` puts one labelled batch before every N unlabelled
    ones (1: they alternate; see :class:`~pyrovae.data.labels.SemiSupervisedBatcher`).
    ``labelled_batch = L`` > 0 pairs L labelled examples with every unlabelled batch instead,
    in one step (Maaløe et al.'s ADGM code: 100 and 100), for a kind whose loss takes such
    batches (``paired_batches``: ``adgm``, ``sdgm``); 0, the default: no pairing.
    ``features_from`` names a trained run (a VAE, Kingma et al.'s M1): every image is replaced
    by the mean of that run's q(z|x), so the model trains on the codes (M1+M2; see
    :mod:`pyrovae.data.features`); empty: the images themselves. ``features_draw = "sample"``
    draws the training codes from q(z|x) afresh every epoch instead (Kingma et al.'s code;
    validation and test keep the means); ``features_units = "active"`` keeps only that VAE's
    active units (the latent dimensions whose mean varies over the images).
    ``features_checksum`` is the SHA-256 of that run's checkpoint: filled in when training
    starts, checked on every later load (resume, evaluate), so that codes from a changed M1
    are refused.
    """

    name: str = "digits"
    dir: str = ""
    binarize: str = "auto"
    valid_fraction: float = 0.1
    test_fraction: float = 0.2
    split_seed: int = 0
    labels: int = 0
    labelled_every: int = 1
    labelled_batch: int = 0
    features_from: str = ""
    features_draw: str = "mean"
    features_units: str = "all"
    features_checksum: str = ""


@dataclass
class ModelConfig:
    """``[model]``: the model kind, its options, and the weight of the KL term.

    ``kind`` is a registered model kind (``vae``, ``m2``; see ``pyrovae list``), or a model of
    your own: ``"path/to/file.py:ClassName"`` or ``"package.module:ClassName"``
    (:mod:`pyrovae.models.user`). Every other key
    of the section is an option of that kind: a keyword of its ``build`` classmethod
    (:meth:`pyrovae.models.VAE.build`, :meth:`pyrovae.models.M2.build`), checked against it when
    the config is loaded, so a VAE refuses ``alpha``. Options that are components (``prior``,
    ``likelihood``, ``guide``, ``encoder``, ``decoder``, and M2's ``classifier``) are names or
    tables like any component. They are read as attributes (``config.model.z_dim``).

    ``kl_weight`` is β ≥ 0 on the KL term (1 is the ELBO); ``kl_warmup_epochs`` = W ramps it
    linearly, β·(e + 1)/W in epoch e = 0, 1, ..., reaching β after W epochs. Both apply to
    every kind: the trainer passes β to the loss.
    """

    kind: str = field(default="vae", metadata={"registry": "model"})
    kl_weight: float = 1.0
    kl_warmup_epochs: int = 0
    options: dict = field(default_factory=dict, metadata={"options": True})

    def __getattr__(self, name):  # only reached when ``name`` is not a field
        options = self.__dict__.get("options")
        if options is not None and name in options:
            return options[name]
        raise AttributeError(f"[model] has no option '{name}'")


@dataclass
class TrainConfig:
    """``[train]``: the SVI loop.

    ``scheduler`` is a learning-rate schedule (:mod:`pyrovae.schedulers`, stepped per epoch);
    ``num_threads = 0`` keeps torch's default; ``eval_samples`` is the number of z draws per
    example for the validation ELBO, run every ``eval_every`` epochs and after the last;
    ``early_stopping = { patience = P }`` stops after P epochs without a better validation
    ELBO (0: never); ``final_iwae_k = K`` > 0 adds the importance-sampled bound with K samples
    on the test split, from ``best.pt``, to ``results.json``; training stops when a step's loss or gradient is not
    finite, or its loss exceeds the running level by ``divergence_factor`` (0: finiteness only;
    see :mod:`pyrovae.divergence`). ``compile = true`` traces the step's loss and gradient into
    one graph and compiles it (:mod:`pyrovae.compiled`). ``clip_grad_norm = C`` > 0 rescales
    each step's gradient to a global L2 norm of at most C, then ``clip_grad_value = V`` > 0 clamps
    its entries to [−V, V] (0: off; Maaløe et al.'s ADGM code uses 5 and 1). ``callbacks`` lists registered
    training callbacks to add to the run's own (:mod:`pyrovae.callbacks`), each a name or a
    table: ``callbacks = [{ name = "mlflow", experiment = "digits" }]``; a resume may change
    them (they report, they do not change what is learned).
    """

    objective: Component = _component("trace", "objective", num_particles=1)
    optimizer: Component = _component("adam", "optimizer")
    scheduler: Component = _component("none", "scheduler")
    lr: float = 1e-3
    batch_size: int = 128
    epochs: int = 30
    seed: int = 0
    device: str = "cpu"
    num_threads: int = 0
    eval_batch_size: int = 1000
    eval_samples: int = 1
    eval_every: int = 1
    early_stopping: dict = field(default_factory=lambda: {"patience": 0})
    final_iwae_k: int = 0
    divergence_factor: float = 1000.0
    compile: bool = False
    clip_grad_norm: float = 0.0
    clip_grad_value: float = 0.0
    callbacks: list = field(default_factory=list, metadata={"registry": "callback",
                                                            "many": True})


@dataclass
class OutputConfig:
    """``[output]``: ``dir`` is the run directory (empty:
    ``runs/<data set>-<model kind>-<time stamp>``); ``tensorboard = true`` (the default)
    writes TensorBoard event files into it when the ``tensorboard`` package is installed
    (``pip install -e ".[tensorboard]"``), and nothing otherwise; ``false`` never does."""

    dir: str = ""
    tensorboard: bool = True


@dataclass
class PluginsConfig:
    """``[plugins]``: code of your own (:mod:`pyrovae.plugins`).

    ``imports`` are modules (by name, or ``.py`` files by path) imported before any name of the
    config is resolved, so that the components and kinds they register can be named; ``train
    --import MODULE`` adds to them. ``sha256`` maps every file among them, and a model file
    named by ``model.kind``, to its SHA-256: filled in when the config is first loaded, and
    checked every time it is loaded again (resume, evaluate, compare, sample, plot), so that a
    run whose code has changed or gone is refused in one line.
    """

    imports: list = field(default_factory=list)
    sha256: dict = field(default_factory=dict)


@dataclass
class Config:
    """A whole run's configuration."""

    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    output: OutputConfig = field(default_factory=OutputConfig)
    plugins: PluginsConfig = field(default_factory=PluginsConfig)


def section_fields():
    return {f.name: f for f in dataclasses.fields(Config)}
