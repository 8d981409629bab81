"""``pyrovae compare``: every estimator of log p(x) side by side, and the gradient noise of the
Monte Carlo versus analytic KL.

The table has one row per estimator (all in nats per example, higher is better for a bound):

* ``elbo-mc``: the ELBO with S particles, KL by Monte Carlo, E[log p(x,z) − log q(z|x)];
* ``elbo-analytic``: the ELBO with S particles for the reconstruction and the KL in closed form;
* ``importance``: the importance-sampled bound L_K = log (1/K) Σ p(x, z_k)/q(z_k|x);
* ``naive``: log (1/K) Σ p(x|z_k) with z_k from the prior.

For each: ``mean`` (over examples, averaged over the R repeats), ``std`` (the standard deviation
of that mean across R runs with seeds ``seed``..``seed+R−1``: the Monte Carlo noise of the number
you would report), ``stderr`` (the standard error over examples, spread / √N, averaged over
repeats: how much the number would move with other test images) and ``seconds`` (wall time of one
run). All ELBOs and bounds are below log p(x) in expectation; L_K rises towards it with K.

Below it, for a fixed batch, the noise of the gradient of the ``trace`` (Monte Carlo KL) and
``meanfield`` (closed-form KL) objectives per parameter group, see
:mod:`pyrovae.infer.gradients`.
"""

import math
import time
from dataclasses import dataclass

import pyro
import torch

from .registry import Component, plural
from .errors import ConfigError
from .infer.elbo import NoClosedForm, evaluate_elbo
from .infer.gradients import gradient_noise
from .infer.importance import importance_bound
from .infer.labels import accuracy, infers_labels
from .infer.logmeanexp import DEFAULT_MAX_ROWS
from .infer.naive import naive_estimate
from .infer.objectives import OBJECTIVES
from .infer.traces import check_programs, enumeration_size, parameter_groups
from .progress import progress_bar
from .runfiles import jsonable

__all__ = [
    "DEFAULT_ESTIMATORS",
    "FAMILIES",
    "MAX_DRAWS",
    "MAX_REPEATS",
    "Estimator",
    "check_counts",
    "compare",
    "compare_estimators",
    "compare_gradients",
    "format_comparison",
    "jsonable",
]


def _elbo(kl):
    def estimate(model, x, k, max_rows, y=None):
        rows = max(1, max_rows // (k * enumeration_size(model, x, y)))
        summary = evaluate_elbo(model, x, batch_size=rows, num_samples=k, kl=kl, y=y)
        return summary["elbo"], summary["elbo_stderr"]

    return estimate


def _per_example(estimator):
    def estimate(model, x, k, max_rows, y=None):
        values = estimator(model, x, k, max_rows=max_rows, y=y)
        stderr = values.std().item() / math.sqrt(values.numel()) if values.numel() > 1 else math.nan
        return values.mean().item(), stderr

    return estimate


#: family -> (description, ``estimate(model, x, k, max_rows, y=None) -> (mean, stderr)``)
FAMILIES = {
    "elbo-mc": ("ELBO, Monte Carlo KL", _elbo("monte-carlo")),
    "elbo-analytic": ("ELBO, analytic KL", _elbo("analytic")),
    "importance": ("importance-sampled bound", _per_example(importance_bound)),
    "naive": ("naive, z from the prior", _per_example(naive_estimate)),
}


@dataclass(frozen=True)
class Estimator:
    """One row of the table: a family of :data:`FAMILIES` and its sample count (S or K)."""

    family: str
    k: int


DEFAULT_ESTIMATORS = (
    *(Estimator("elbo-mc", k) for k in (1, 10, 100)),
    *(Estimator("elbo-analytic", k) for k in (1, 10, 100)),
    *(Estimator("importance", k) for k in (1, 10, 100, 1000, 5000)),
    Estimator("naive", 1000),
)


#: the objectives whose gradient noise :func:`compare_gradients` measures
GRADIENT_OBJECTIVES = ("trace", "meanfield")

#: the cost of a gradient draw per particle and example, relative to one sample of an
#: estimator per example (a forward and a backward pass; about 1.6 measured on the digits)
GRADIENT_COST = 2


def _estimator_cost(est, x):
    """The work of one run of ``est`` on ``x`` for the progress bar: K (or S) samples per
    example, plus one for the per-run overhead."""
    return (est.k + 1) * x.shape[0]


def _gradient_cost(particles, draws, x):
    """The work of the ``draws`` gradient draws with ``particles`` particles on the batch ``x``
    for the progress bar, in the units of :func:`_estimator_cost`."""
    return GRADIENT_COST * draws * particles * x.shape[0]


class _Cells:
    """A progress bar over runs (cells of the tables) weighted by their estimated cost, so its
    time left is about right although the runs of K = 5000 take most of the time: it shows
    the share of the work done, the time left and which run is under way."""

    def __init__(self, bar, runs):
        self.bar, self.runs, self.done = bar, runs, 0

    def start(self, label):
        self.bar.set_postfix_str(f"run {self.done + 1}/{self.runs}: {label}")

    def finish(self, cost, runs=1):
        self.done += runs
        self.bar.update(cost)


def _cells(total, runs, enabled):
    bar = progress_bar(total, desc="compare", unit="sample", enabled=enabled, smoothing=0,
                       bar_format="{desc}: {percentage:3.0f}%|{bar}| "
                       "[{elapsed}<{remaining}{postfix}]")  # the average rate: runs differ
    return bar, _Cells(bar, runs)


def compare_estimators(model, x, estimators=DEFAULT_ESTIMATORS, repeats=3, seed=0,
                       max_rows=DEFAULT_MAX_ROWS, y=None, cells=None):
    """Run every estimator ``repeats`` times on ``x`` (given the conditions ``y`` for a
    conditional model: ``model.given(labels)``).

    :param cells: the progress of :func:`compare` (private; ``None``: no bar).
    :returns: a list of rows ``{"family", "estimator", "k", "mean", "std", "stderr",
        "seconds", "available"}``; ``available`` is False (and the numbers NaN) for an
        analytic ELBO when the (guide, prior) pair has no closed-form KL.
    """
    rows = []
    for est in estimators:
        description, estimate = FAMILIES[est.family]
        means, stderrs, seconds = [], [], []
        try:
            for r in range(repeats):
                if cells is not None:
                    cells.start(f"{est.family} K={est.k}")
                pyro.set_rng_seed(seed + r)
                start = time.perf_counter()
                mean, stderr = estimate(model, x, est.k, max_rows, y=y)
                seconds.append(time.perf_counter() - start)
                means.append(mean)
                stderrs.append(stderr)
                if cells is not None:
                    cells.finish(_estimator_cost(est, x))
        except NoClosedForm:  # no closed-form KL for this guide and prior
            if cells is not None:
                cells.finish(_estimator_cost(est, x) * (repeats - len(means)),
                             repeats - len(means))
            rows.append({"family": est.family, "estimator": description, "k": est.k,
                         "mean": math.nan, "std": math.nan, "stderr": math.nan,
                         "seconds": math.nan, "available": False})
            continue
        means = torch.tensor(means, dtype=torch.float64)
        rows.append({
            "family": est.family,
            "estimator": description,
            "k": est.k,
            "mean": means.mean().item(),
            "std": means.std().item() if repeats > 1 else math.nan,
            "stderr": sum(stderrs) / len(stderrs),
            "seconds": sum(seconds) / len(seconds),
            "available": True,
        })
    return rows


def compare_gradients(model, x, particles=(1, 10, 100), draws=20, seed=0, y=None, cells=None):
    """Gradient noise of ``trace`` and ``meanfield`` on the batch ``x`` (conditions ``y``) for
    each particle count (``cells``: the progress of :func:`compare`, private).

    An objective the model kind cannot train with (M2 has no closed-form-KL objective) gives
    rows with ``available`` False and NaN statistics, and the reason in ``note``.

    :returns: rows ``{"objective", "particles", "group", "variance", "snr", "mean_norm",
        "seconds", "available"}`` (seconds: wall time of all draws of that objective and
        particle count).
    """

    groups = list(parameter_groups(model))
    rows = []
    for name in GRADIENT_OBJECTIVES:
        for p in particles:
            try:
                check = getattr(type(model), "check_objective", None)
                if check is not None:
                    check(Component(name, {"num_particles": p}))
            except ConfigError as e:
                rows.extend({"objective": name, "particles": p, "group": group,
                             "variance": math.nan, "snr": math.nan, "mean_norm": math.nan,
                             "seconds": math.nan, "available": False, "note": str(e)}
                            for group in groups)
                if cells is not None:
                    cells.finish(_gradient_cost(p, draws, x))
                continue
            objective = OBJECTIVES.build(
                name, {"max_plate_nesting": getattr(model, "max_plate_nesting", 1)},
                num_particles=p
            )
            if cells is not None:
                cells.start(f"{draws} gradients of {name}, {p} particle{'s' * (p != 1)}")
            start = time.perf_counter()
            noise = gradient_noise(model, objective, x, draws=draws, seed=seed, y=y)
            seconds = time.perf_counter() - start
            if cells is not None:
                cells.finish(_gradient_cost(p, draws, x))
            for group, stats in noise.items():
                rows.append({"objective": name, "particles": p, "group": group, **stats,
                             "seconds": seconds, "available": True})
    return rows


#: the most runs of each estimator :func:`compare` takes: each runs the whole table (the
#: K = 5000 bound included), so 100 repeats already take about 100 times the default 3's
#: minutes; the spread across repeats is well estimated long before
MAX_REPEATS = 100
#: the most gradient draws per objective and particle count: 500 times the default 20; each
#: draw is a backward pass with up to 100 particles, and the variance estimate's relative
#: error, about sqrt(2 / draws), is 1.4% there
MAX_DRAWS = 10_000


def check_counts(repeats, draws):
    """Refuse, in one line, ``repeats`` and ``draws`` that :func:`compare` cannot use: not
    whole numbers, below 1 (``draws`` below 2: a variance needs two draws), or above
    :data:`MAX_REPEATS` / :data:`MAX_DRAWS`, which would run for days."""
    for name, value, low, high in (("repeats", repeats, 1, MAX_REPEATS),
                                   ("draws", draws, 2, MAX_DRAWS)):
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            why = (f"; more than {high} would run for days without changing the figures"
                   if isinstance(value, int) and value > high else "")
            raise ConfigError(f"compare: {name} must be a whole number in [{low}, {high}], got "
                              f"{value!r}{why}")


def compare(model, x, estimators=DEFAULT_ESTIMATORS, repeats=3, seed=0, particles=(1, 10, 100),
            draws=20, gradient_batch=100, max_rows=DEFAULT_MAX_ROWS, y=None, labels=None,
            progress=None):
    """The whole comparison: estimator table and gradient noise (on the first
    ``gradient_batch`` examples of ``x``).

    :param model: a model kind, or any module with Pyro programs ``model`` and ``guide``: the
        estimators are derived from their traces.
    :param x: the examples, ``(N,) + event_shape``.
    :param estimators: the rows (default :data:`DEFAULT_ESTIMATORS`).
    :param int repeats: runs per estimator, seeds ``seed``.. (default 3; at most
        :data:`MAX_REPEATS`).
    :param int seed: first seed (default 0).
    :param particles: particle counts for the gradient noise (default 1, 10, 100).
    :param int draws: gradient draws per objective and particle count (default 20; 2 to
        :data:`MAX_DRAWS`).
    :param int gradient_batch: examples in the fixed gradient batch (default 100).
    :param int max_rows: samples × images per decoder call (default 8192).
    :param y: the examples' conditions for a conditional model (``model.given(labels)``), so
        every estimate is of log p(x|y); ``None`` otherwise.
    :param labels: the examples' labels: a model that infers labels (its guide has a label
        site, :func:`~pyrovae.infer.labels.infers_labels`) adds the accuracy of its q(y|x)
        (``accuracy``, ``accuracy_stderr``) to the result.
    :param progress: a progress bar on stderr over the runs of both tables, weighted by their
        estimated cost (samples × examples), with the time left and the run under way
        (:func:`pyrovae.progress.progress_bar`): ``True``, ``False``, or ``None`` (the
        default) for one when stderr is a terminal. It changes no number.
    :returns: ``{"num_examples", "repeats", "seed", "estimators": [...], "gradient_batch",
        "gradient_draws", "gradient_noise": [...]}``.
    """
    check_counts(repeats, draws)
    model.eval()
    check_programs(model, x[:2], None if y is None else y[:2])  # before any work
    batch = x[:gradient_batch]
    batch_y = None if y is None else y[:gradient_batch]
    total = (repeats * sum(_estimator_cost(est, x) for est in estimators)
             + len(GRADIENT_OBJECTIVES) * sum(_gradient_cost(p, draws, batch) for p in particles))
    runs = repeats * len(estimators) + len(GRADIENT_OBJECTIVES) * len(particles)
    bar, cells = _cells(max(total, 1), runs, progress)
    with bar:
        result = {
            "num_examples": int(x.shape[0]),
            "repeats": int(repeats),
            "seed": int(seed),
            "estimators": compare_estimators(model, x, estimators, repeats, seed, max_rows, y,
                                             cells),
        }
        result["gradient_batch"] = int(batch.shape[0])
        result["gradient_draws"] = int(draws)
        result["gradient_noise"] = compare_gradients(model, batch, particles, draws, seed,
                                                     batch_y, cells)
    if labels is not None and infers_labels(model, x):
        result["accuracy"], result["accuracy_stderr"] = accuracy(model, x, labels, max_rows)
    return result


def _number(value, width, digits, style="f"):
    return f"{'n/a':>{width}}" if value is None or math.isnan(value) else \
        f"{value:>{width}.{digits}{style}}"


def format_comparison(result):
    """The comparison as plain-text tables."""
    lines = [
        f"estimators of log p(x), nats per example ({plural(result['num_examples'], 'example')}, "
        f"{result['repeats']} repeats):",
        f"  {'estimator':<26} {'K':>5} {'mean':>11} {'std(runs)':>10} {'stderr':>8} "
        f"{'time/s':>8}",
    ]
    for row in result["estimators"]:
        lines.append(
            f"  {row['estimator']:<26} {row['k']:>5} {_number(row['mean'], 11, 3)} "
            f"{_number(row['std'], 10, 4)} {_number(row['stderr'], 8, 3)} "
            f"{_number(row['seconds'], 8, 2)}"
        )
    lines += [
        "  std(runs): spread of the mean over repeated runs (Monte Carlo noise); stderr: over "
        "examples",
        "",
        f"gradient noise on a batch of {plural(result['gradient_batch'], 'example')} "
        f"({result['gradient_draws']} draws; variance = mean per-coordinate variance of the "
        "gradient per example, snr = |E g| / sqrt(tr Cov g)):",
        f"  {'objective':<10} {'particles':>9} {'group':<8} {'variance':>11} {'snr':>8}",
    ]
    for row in result["gradient_noise"]:
        lines.append(
            f"  {row['objective']:<10} {row['particles']:>9} {row['group']:<8} "
            f"{_number(row['variance'], 11, 3, 'e')} {_number(row['snr'], 8, 3)}"
        )
    lines.append("  trace: Monte Carlo KL (Trace_ELBO); meanfield: closed-form KL "
                 "(TraceMeanField_ELBO)")
    notes = sorted({row["note"] for row in result["gradient_noise"] if row.get("note")})
    lines.extend(f"  n/a: {note}" for note in notes)
    if "accuracy" in result:
        lines += ["", f"classifier q(y|x): accuracy {result['accuracy']:.4f} ± "
                  f"{result['accuracy_stderr']:.4f} (one standard error over examples)"]
    return "\n".join(lines)
