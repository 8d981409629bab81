"""The ``pyrovae`` command: train, evaluate, compare, sample, plot, list.

Errors a user can cause are reported as one line on stderr with exit status 2; nothing already
written is touched (run files are written atomically).

Output survives any locale: where stdout or stderr cannot encode a character (an ASCII
terminal, ``PYTHONIOENCODING=ascii``), it is written as its ASCII equivalent (``±`` as ``+/-``,
``σ`` as ``sigma``) or, failing one, as a backslash escape. A path or name given as bytes that
are not valid UTF-8 is refused in one line before anything is read or written.

Sizes the user chooses (``--samples``, ``-n``) are checked against this machine's memory before
anything is allocated (:func:`pyrovae.memory.require`), and counts that would only take
absurdly long (``--iwae-k`` above :data:`pyrovae.config.MAX_IWAE_K`, ``--draws`` and
``--repeats`` above :data:`pyrovae.compare.MAX_DRAWS` and :data:`~pyrovae.compare.MAX_REPEATS`)
are refused.

Every command takes ``--import MODULE`` (repeatable): modules of the user's own, imported
before anything else, so that the components and model kinds they register can be named
(``train`` records them in the run, :mod:`pyrovae.plugins`). ``--help`` imports neither torch
nor Pyro, nor any plugin.
"""

import argparse
import codecs
import json
import math
import os
import sys
import time
import warnings
from pathlib import Path

from ._version import __version__
from .errors import PyroVAEError
from .files import shown
from .registry import article, plural

__all__ = ["main"]

# The built-in names that ``train --help`` lists. ``--help`` imports neither torch nor Pyro, so
# it cannot read the registries; tests/test_cli.py checks these against them.

#: the built-in model kinds (``MODELS``), in the order ``--help`` lists them
MODEL_KINDS = ("vae", "hvae", "cvae", "cvae-quadrants", "m2", "adgm", "sdgm")
#: the built-in kinds that learn from a few labels (``uses_labels``, not ``needs_every_label``)
FEW_LABEL_KINDS = ("m2", "adgm", "sdgm")
#: the built-in kinds with classes to draw samples of (``uses_labels``: a ``num_classes``)
CLASS_KINDS = ("cvae", "m2", "adgm", "sdgm")
#: the built-in objectives (``OBJECTIVES``), in the order ``--help`` lists them
OBJECTIVE_NAMES = ("trace", "meanfield", "iwae", "renyi")

#: CLI flag -> config key
TRAIN_FLAGS = {
    "dataset": "data.name",
    "data_dir": "data.dir",
    "prior": "model.prior",
    "likelihood": "model.likelihood",
    "guide": "model.guide",
    "model": "model.kind",
    "labels": "data.labels",
    "objective": "train.objective",
    "epochs": "train.epochs",
    "batch_size": "train.batch_size",
    "lr": "train.lr",
    "z_dim": "model.z_dim",
    "seed": "train.seed",
    "device": "train.device",
    "out": "output.dir",
}


class UsageError(PyroVAEError):
    """A command line argparse cannot parse."""


class _Parser(argparse.ArgumentParser):
    """argparse, with its errors as one ``pyrovae: error:`` line (usage and all) instead of a
    usage block; ``--help`` is unchanged."""

    def error(self, message):
        raise UsageError(f"{message}; see '{self.prog} --help'")


def _seed(text):
    """A seed for ``--seed``: an integer in [0, 2**32), what numpy (seeded by Pyro) accepts."""
    value = int(text)
    if not 0 <= value < 2**32:
        raise argparse.ArgumentTypeError(f"{value} is not a seed in [0, 4294967295]")
    return value


def _parser():
    parser = _Parser(
        prog="pyrovae", description="Variational autoencoders written the Pyro way."
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND",
                                parser_class=_Parser)

    t = sub.add_parser("train", help="train a model and write a run directory")
    source = t.add_mutually_exclusive_group()
    source.add_argument("--config", metavar="FILE", help="a TOML config file")
    source.add_argument("--recipe", metavar="NAME",
                        help="a published protocol shipped with pyrovae, as the config file "
                        "(pyrovae list recipes)")
    t.add_argument("--dataset", metavar="NAME", help="data set name or .npy/.npz path")
    t.add_argument("--data-dir", metavar="DIR", help="folder holding the data set")
    t.add_argument("--model", metavar="KIND",
                   help=f"model kind ({', '.join(MODEL_KINDS)}; pyrovae list), or a model of "
                   "your own: path/to/file.py:ClassName or package.module:ClassName")
    t.add_argument("--labels", type=int, metavar="N",
                   help=f"a kind that learns from labels ({', '.join(FEW_LABEL_KINDS)}): keep N "
                   "training labels, balanced over the classes (0: all)")
    t.add_argument("--prior", metavar="NAME")
    t.add_argument("--likelihood", metavar="NAME")
    t.add_argument("--guide", metavar="NAME", help="posterior family q(z|x)")
    t.add_argument("--objective", metavar="NAME",
                   help=f"{', '.join(OBJECTIVE_NAMES)}, or one registered by a plugin or "
                   "--import (pyrovae list)")
    t.add_argument("--epochs", type=int, metavar="N")
    t.add_argument("--batch-size", type=int, metavar="N")
    t.add_argument("--lr", type=float, metavar="LR", help="learning rate")
    t.add_argument("--z-dim", type=int, metavar="N", help="latent dimension")
    t.add_argument("--seed", type=int, metavar="N")
    t.add_argument("--device", metavar="DEV", help="cpu, cuda, cuda:N or auto")
    t.add_argument("--out", metavar="DIR", help="the run directory")
    t.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override any config key, e.g. --set model.encoder.hidden=[512,256]",
    )
    t.add_argument("--jit", action="store_true", help=argparse.SUPPRESS)  # replaced by --compile
    compiled = t.add_mutually_exclusive_group()
    compiled.add_argument("--compile", dest="compile", action="store_const", const=True,
                          help="trace the step's loss and gradient once and compile them "
                          "(same as --set train.compile=true)")
    compiled.add_argument("--no-compile", dest="compile", action="store_const", const=False,
                          help="run the step eagerly (same as --set train.compile=false)")
    t.add_argument("--overwrite", action="store_true", help="reuse a non-empty --out")
    t.add_argument("--resume", metavar="RUN_DIR",
                   help="continue RUN_DIR from its last checkpoint (with --epochs N: extend it "
                   "to N epochs); no other flag may change the run")
    t.add_argument("--quiet", action="store_true", help="no progress bar or per-epoch lines")

    e = sub.add_parser(
        "evaluate",
        help="ELBO (and its terms) of a trained run on a split",
        epilog=EVALUATE_KEYS,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    e.add_argument("run_dir", metavar="RUN_DIR")
    e.add_argument("--split", choices=["test", "valid", "train"], default="test")
    e.add_argument("--samples", type=int, default=1, metavar="N", help="z draws per example")
    e.add_argument("--seed", type=_seed, default=0, metavar="N")
    e.add_argument("--data-dir", metavar="DIR", help="override the run's data.dir")
    e.add_argument("--device", default="cpu", metavar="DEV")
    e.add_argument("--checkpoint", choices=["best", "last"], default="best",
                   help="best.pt (best validation ELBO, the default) or checkpoint.pt (last "
                   "epoch); runs without best.pt use the last")
    e.add_argument("--json", action="store_true", help="print one JSON object")
    e.add_argument(
        "--iwae-k",
        type=int,
        metavar="K",
        help="also the importance-sampled bound on log p(x) with K samples per example "
        "(papers use 5000)",
    )
    e.add_argument("--quiet", action="store_true",
                   help="no progress bar or time estimate of the bound (on stderr)")

    c = sub.add_parser(
        "compare",
        help="every estimator of log p(x) side by side, and MC vs analytic KL gradient noise",
        description="A table of the MC and analytic-KL ELBO (1, 10, 100 particles), the "
        "importance-sampled bound (K = 1 ... 5000) and the naive prior-sampling estimate "
        "(K = 1000): mean, std across repeated runs, standard error over examples, time; "
        "then the gradient variance and signal-to-noise ratio of the Monte Carlo (trace) and "
        "analytic (meanfield) KL objectives for 1, 10, 100 particles.",
    )
    c.add_argument("run_dir", metavar="RUN_DIR")
    c.add_argument("--split", choices=["test", "valid", "train"], default="test")
    c.add_argument("--max-examples", type=int, default=1000, metavar="N",
                   help="use the first N examples of the split (default 1000; 0: all)")
    c.add_argument("--repeats", type=int, default=3, metavar="R",
                   help="runs of each estimator with seeds SEED..SEED+R-1 (default 3)")
    c.add_argument("--draws", type=int, default=20, metavar="D",
                   help="gradient draws per objective and particle count (default 20)")
    c.add_argument("--seed", type=_seed, default=0, metavar="N")
    c.add_argument("--plot", metavar="FILE.png",
                   help="also plot the estimates against K and gradient variance against "
                   "particles")
    c.add_argument("--data-dir", metavar="DIR", help="override the run's data.dir")
    c.add_argument("--device", default="cpu", metavar="DEV")
    c.add_argument("--checkpoint", choices=["best", "last"], default="best",
                   help="best.pt (best validation ELBO, the default) or checkpoint.pt (last "
                   "epoch); runs without best.pt use the last")
    c.add_argument("--json", action="store_true", help="print one JSON object")
    c.add_argument("--quiet", action="store_true", help="no progress bar (on stderr)")

    s = sub.add_parser("sample", help="a PNG grid of samples from a trained run's prior")
    s.add_argument("run_dir", metavar="RUN_DIR")
    s.add_argument("-n", type=int, default=64, metavar="N", help="number of samples")
    s.add_argument("-o", "--output", metavar="FILE.png", help="default RUN_DIR/samples-N.png")
    s.add_argument("--seed", type=_seed, default=0, metavar="N")
    s.add_argument("--class", dest="label", type=int, metavar="K",
                   help="draw every sample from class K (0..K-1) of a label-aware model "
                   f"({', '.join(CLASS_KINDS)})")
    s.add_argument("--checkpoint", choices=["best", "last"], default="best",
                   help="best.pt (best validation ELBO, the default) or checkpoint.pt (last "
                   "epoch); runs without best.pt use the last")

    p = sub.add_parser("plot", help="training curves of one or more runs, overlaid, as a PNG")
    p.add_argument("run_dirs", nargs="+", metavar="RUN_DIR")
    p.add_argument("-o", "--output", metavar="FILE.png", default="curves.png",
                   help="the PNG to write (default curves.png)")

    ls = sub.add_parser("list", help="every registered component with a description "
                        "(plugins and --import included), and the recipes")
    ls.add_argument("section", nargs="?", metavar="SECTION",
                    help="list only this: recipes, models, priors, ... (default: all)")
    ls.add_argument("--json", action="store_true")
    for command in sub.choices.values():
        command.add_argument(
            "--import", dest="imports", action="append", default=[], metavar="MODULE",
            help="import MODULE (a module name or a .py file) first, for the components and "
            "models it registers; repeatable (train records it in the run)")
    return parser


EVALUATE_KEYS = """\
JSON keys (--json), all in nats per example unless said otherwise:
  run_dir, split, epoch        the run, the split evaluated, the checkpoint's epoch
  samples                      z draws per example for the ELBO's Monte Carlo parts
  num_examples                 examples in the split
  elbo, elbo_stderr            mean ELBO and its standard error over examples
  reconstruction, reconstruction_stderr   E_q[log p(x|z)] and its standard error
  kl, kl_stderr                KL(q(z|x) || p(z)) and its standard error
  kl_method                    "analytic" (closed form), "monte-carlo", or "mixed" when
                               the latent sites differ
  kl_sites                     per latent site: its kl, kl_stderr and method ("analytic",
                               "monte-carlo", or "exact" for an enumerated site)
  accuracy*                    classification accuracy (models with labels only)
with --iwae-k K:
  log_likelihood               mean over examples of log (1/K) sum_k p(x,z_k)/q(z_k|x),
                               z_k ~ q(z|x): the importance-sampled bound (test
                               log-likelihood); a lower bound on log p(x), at least the ELBO
                               in expectation
  log_likelihood_stderr        its standard error over examples
  iwae_k                       K
  log_likelihood_seconds       wall time of that bound
"""


def _png_path(flag, path):
    path = Path(path)
    if path.suffix.lower() != ".png":
        raise PyroVAEError(f"{flag} {path}: the output must be a .png file")
    if not path.parent.is_dir():
        raise PyroVAEError(f"{flag} {path}: folder {path.parent} does not exist")
    if path.is_dir():
        raise PyroVAEError(f"{flag} {path} is a folder; name a .png file to write")
    return path


def _positive(name, value):
    if value is not None and value < 1:
        raise PyroVAEError(f"{name} must be a positive integer, got {value}")


def _at_most(name, value, limit, why):
    if value is not None and value > limit:
        raise PyroVAEError(f"{name} {value} is more than {limit}, the most pyrovae takes: {why}")


def _widths(module):
    """The sum of the output widths of ``module``'s layers (the first dimension of every weight
    of two or more dimensions): the numbers one example and one draw keep alive, from below."""
    return sum(p.shape[0] for p in module.parameters() if p.dim() >= 2) or 1


def _check_text(args):
    """Refuse, before anything is read or written, an argument that is not valid UTF-8: Python
    decodes such bytes of the command line with ``surrogateescape``, and no run file (UTF-8)
    could record them."""
    for name, value in vars(args).items():
        for item in value if isinstance(value, list) else [value]:
            if not isinstance(item, str) or shown(item) == item:
                continue
            flag = {"run_dir": "RUN_DIR", "run_dirs": "RUN_DIR", "label": "--class",
                    "imports": "--import", "n": "-n", "section": "SECTION",
                    "command": "COMMAND"}.get(name, f"--{name.replace('_', '-')}")
            if name == "set":
                raise PyroVAEError(f"--set {shown(item)}: the value is not valid UTF-8; type it "
                                   "again in UTF-8, or rename the path it names")
            raise PyroVAEError(f"{flag} {shown(item)}: the name is not valid UTF-8; rename it "
                               "or choose another")


#: ``--set`` keys that go with ``--resume``: where a run computes, not what
RESUME_SETTINGS = ("train.num_threads",)


def _resume_only(args):
    """``--resume`` continues a run as it was configured: refuse any flag that would change
    it; the device (``--device``) and ``--set train.num_threads=N`` may change. Returns the
    thread count given, or ``None``."""
    given = [f"--{flag.replace('_', '-')}"
             for flag in (*TRAIN_FLAGS, "config", "recipe", "overwrite")
             if flag not in ("epochs", "device") and getattr(args, flag)]  # (--import imports)
    settings = {}
    for assignment in args.set:
        key, _, value = assignment.partition("=")
        if key.strip() in RESUME_SETTINGS:
            settings[key.strip()] = value.strip()
        else:
            given.append(f"--set {assignment}")
    given += [f"--{'no-' * (not args.compile)}compile"] if args.compile is not None else []
    if given:
        raise PyroVAEError(
            f"--resume continues {args.resume} as it was configured; drop {', '.join(given)} "
            "(only --epochs, --device, --set train.num_threads=N, --quiet and --import go with "
            "--resume), or start a new run"
        )
    threads = settings.get("train.num_threads")
    if threads is None:
        return None
    if not threads.isdigit():
        raise PyroVAEError(f"--set train.num_threads={threads}: give a whole number of threads "
                           "(0: torch's default)")
    return int(threads)


def cmd_train(args):
    from . import distributed
    from .config import load_config
    from .runfiles import read_results, run_files
    from .training import resume, train

    def log(message):
        if not args.quiet:
            print(message, flush=True)

    progress = None if not args.quiet else False
    start = time.perf_counter()
    if args.resume:
        threads = _resume_only(args)
        run_dir, module, rows = resume(args.resume, args.epochs, progress=progress, log=log,
                                       device=args.device, num_threads=threads)
    else:
        flags = {key: getattr(args, flag) for flag, key in TRAIN_FLAGS.items()}
        if args.jit:
            raise PyroVAEError("--jit (Pyro's JIT ELBOs) was replaced by --compile, which traces "
                               "the whole step and is faster; use --compile")
        overrides = list(args.set)
        if args.compile is not None:
            overrides.append(f"train.compile={str(args.compile).lower()}")
        if args.recipe is not None:
            from . import recipes

            with recipes.path(args.recipe) as recipe:
                config = load_config(recipe, overrides, imports=args.imports, **flags)
        else:
            config = load_config(args.config, overrides, imports=args.imports, **flags)
        run_dir, module, rows = train(config, progress=progress, overwrite=args.overwrite,
                                      log=log)
    seconds = time.perf_counter() - start
    if not distributed.current().is_main:  # under torchrun only rank 0 reports
        return 0
    validated = [row for row in rows if "valid_elbo" in row]
    if rows and not args.quiet:
        last = rows[-1]
        valid = (f", valid ELBO {validated[-1]['valid_elbo']:.3f} nats per example (epoch "
                 f"{validated[-1]['epoch']})" if validated else "")
        print(f"epoch {last['epoch']}: train loss {last['train_loss']:.3f}{valid}")
    trained = (read_results(run_dir) or {}).get("train_seconds")
    spent = (f"trained for {trained:.1f} s ({seconds:.1f} s in all, with loading and the "
             f"final reports)" if isinstance(trained, (int, float)) else
             f"{seconds:.1f} s in all")
    print(f"{spent}; outputs in {run_dir}/")
    if not args.quiet:
        for name in run_files(run_dir):  # what the run wrote, its kind's figures included
            print(f"  {Path(run_dir) / name}")
    return 0


def _open_run(run_dir, device="cpu", data_dir=None, checkpoint="best"):
    from .runs import open_run

    return open_run(run_dir, device, data_dir, checkpoint)


def _check_programs(module, split):
    """Refuse, in one line and before any work, a model whose programs the estimators cannot
    read (:func:`~pyrovae.models.user.check_model`)."""
    from .models.user import check_model

    x, y = split.x[:2], split.y
    check_model(module, x, None if module.given(y) is None else module.given(y)[:2])


def cmd_evaluate(args):
    from .config import MAX_IWAE_K
    from .memory import require
    from .run_data import load_data

    _positive("--samples", args.samples)
    _positive("--iwae-k", args.iwae_k)
    _at_most("--iwae-k", args.iwae_k, MAX_IWAE_K, "its time grows with K (papers use 5000), "
             "and beyond that it would take days while the bound has long stopped moving")
    import pyro

    from . import distributed
    from .device import resolve_device

    world, device = distributed.init(resolve_device(args.device))  # one rank without torchrun
    config, module, state, device = _open_run(args.run_dir, str(device), args.data_dir,
                                                args.checkpoint)
    dataset = load_data(config, device, progress=False if args.quiet else None)
    module.check_data(dataset)
    split = dataset.split(args.split)
    batch = min(config.train.eval_batch_size, max(1, split.x.shape[0]))
    require(4 * 2 * args.samples * batch * _widths(module),
            f"--samples {args.samples} ({batch} examples at a time)", "give a smaller --samples",
            device=device)
    _check_programs(module, split)  # before any work
    pyro.set_rng_seed(args.seed)
    result = module.evaluate(
        split.x, split.y, config.train.eval_batch_size, num_samples=args.samples, world=world
    )
    result = {"run_dir": str(args.run_dir), "split": args.split, "epoch": state["epoch"],
              "samples": args.samples, **result}
    if args.iwae_k is not None:
        from .infer.importance import evaluate_log_likelihood

        def announce(line):  # on stderr: stdout holds the result (--json) alone
            print(line, file=sys.stderr, flush=True)

        pyro.set_rng_seed(args.seed)
        start = time.perf_counter()
        bound = evaluate_log_likelihood(module, split.x, args.iwae_k, world=world,
                                        y=module.given(split.y),
                                        progress=False if args.quiet else None,
                                        log=None if args.quiet else announce)
        result.update(log_likelihood=bound["log_likelihood"],
                      log_likelihood_stderr=bound["log_likelihood_stderr"],
                      iwae_k=args.iwae_k, log_likelihood_seconds=time.perf_counter() - start)
        if world.size > 1:
            result["ranks"] = world.size
    if not world.is_main:
        return 0
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(f"{args.run_dir} ({args.split} split, {result['num_examples']} examples, "
              f"epoch {result['epoch']}), nats per example:")
        for key in ("elbo", "reconstruction", "kl"):
            print(f"  {key:<15} {result[key]:>12.4f}  ± {result[key + '_stderr']:.4f}")
        if args.iwae_k is not None:
            ranks = f" on {world.size} ranks" if world.size > 1 else ""
            print(f"  {'log_likelihood':<15} {result['log_likelihood']:>12.4f}  ± "
                  f"{result['log_likelihood_stderr']:.4f}  (importance-sampled bound, "
                  f"K = {args.iwae_k}, {result['log_likelihood_seconds']:.1f} s{ranks})")
        sites = result.get("kl_sites", {})
        if len(sites) > 1:  # the KL of each latent site, and how it was computed
            for name, site in sites.items():
                label = f"kl[{name}]"
                print(f"  {label:<15} {site['kl']:>12.4f}  ± {site['kl_stderr']:.4f}  "
                      f"({site['method']})")
        print(f"  KL is {result['kl_method']}; ± is one standard error over examples")
        for key, value in result.items():
            if key.startswith("accuracy"):
                print(f"  {key:<15} {value:>12.4f}")
    return 0


def cmd_compare(args):
    from .compare import MAX_DRAWS, MAX_REPEATS, compare, format_comparison, jsonable
    from .run_data import load_data

    for flag in ("repeats", "draws"):
        _positive(f"--{flag}", getattr(args, flag))
    if args.draws < 2:
        raise PyroVAEError("--draws must be at least 2 to estimate a gradient variance")
    _at_most("--repeats", args.repeats, MAX_REPEATS, "each repeat runs the whole table, the "
             "K = 5000 bound included, and the spread is well estimated long before")
    _at_most("--draws", args.draws, MAX_DRAWS, "each draw is a backward pass with up to 100 "
             "particles, and the variance is within about 1.4% there")
    if args.max_examples < 0:
        raise PyroVAEError(f"--max-examples must be 0 (all) or positive, got {args.max_examples}")
    last_seed = args.seed + args.repeats - 1  # the repeats use seeds SEED..SEED+R-1
    if last_seed >= 2**32:
        raise PyroVAEError(f"--seed {args.seed} with --repeats {args.repeats} needs seeds up to "
                           f"{last_seed}, beyond 4294967295; use a smaller --seed")
    plot = _png_path("--plot", args.plot) if args.plot else None
    config, module, state, device = _open_run(args.run_dir, args.device, args.data_dir,
                                                args.checkpoint)
    dataset = load_data(config, device, progress=False if args.quiet else None)
    module.check_data(dataset)
    split = dataset.split(args.split)
    _check_programs(module, split)  # before any work
    x, labels = split.x, split.y
    if args.max_examples:
        x, labels = x[: args.max_examples], None if labels is None else labels[: args.max_examples]
    result = compare(module, x, repeats=args.repeats, seed=args.seed, draws=args.draws,
                     y=module.given(labels), labels=labels,
                     progress=False if args.quiet else None)
    result = {"run_dir": str(args.run_dir), "split": args.split, "epoch": state["epoch"],
              **result}
    if plot is not None:
        from .plots import save_comparison_plot

        save_comparison_plot(result, plot)
    if args.json:
        print(json.dumps(jsonable(result), indent=2))
    else:
        print(f"{args.run_dir} ({args.split} split, epoch {result['epoch']})")
        print(format_comparison(result))
        if plot is not None:
            print(f"wrote {plot}")
    return 0


def cmd_sample(args):
    import pyro

    from .memory import require
    from .plots import save_samples

    _positive("-n", args.n)
    output = _png_path("-o", args.output) if args.output else None
    config, module, state, _ = _open_run(args.run_dir, checkpoint=args.checkpoint)
    label = None
    if args.label is not None:
        classes = getattr(module, "num_classes", None)
        if classes is None:
            raise PyroVAEError(f"--class needs a model of labelled data "
                               f"({', '.join(CLASS_KINDS)}); {args.run_dir} is "
                               f"{article(repr(module.kind))} model: drop --class")
        if not 0 <= args.label < classes:
            raise PyroVAEError(f"--class {args.label} is not a class of this model; give one "
                               f"of 0..{classes - 1}")
        label = args.label
    shape = state.get("event_shape")
    pixels = math.prod(shape) if isinstance(shape, (list, tuple)) else 1
    # the draws through the decoder, and the grid of images
    require(4 * args.n * (_widths(module) + 2 * pixels), f"-n {args.n}", "give a smaller -n")
    name = f"samples-{args.n}" + (f"-class{label}" if label is not None else "")
    output = output or Path(args.run_dir) / f"{name}.png"
    pyro.set_rng_seed(args.seed)
    save_samples(module, args.n, output, tuple(state["event_shape"]), label=label)
    what = f" of class {label}" if label is not None else ""
    print(f"wrote {args.n} samples{what} to {output}")
    return 0


def cmd_list(args):
    from . import recipes

    if args.section == "recipes":  # without the registries (and torch)
        table = {"recipes": recipes.describe()}
    else:
        from .registries import REGISTRIES  # the live registries: plugins and --import included

        table = {heading: registry.describe() for heading, registry in REGISTRIES.items()}
        table["recipes"] = recipes.describe()
        if args.section is not None:
            if args.section not in table:
                from .registry import closest

                raise PyroVAEError(f"pyrovae list has no section '{args.section}'"
                                   f"{closest(args.section, table)}; choose one of: "
                                   f"{', '.join(table)}")
            table = {args.section: table[args.section]}
    if args.json:
        print(json.dumps(table, indent=2))
        return 0
    for kind, entries in table.items():
        print(f"{kind}:")
        width = max(len(name) for name in entries) if entries else 0
        for name, description in entries.items():
            print(f"  {name:<{width}}  {description}")
    return 0


def cmd_plot(args):
    from .plots import save_training_curves
    from .runfiles import load_run_config, read_metrics

    output = _png_path("-o", args.output)
    runs = []
    for run_dir in args.run_dirs:
        load_run_config(run_dir)  # refuses what is not a run, in one line
        rows = read_metrics(run_dir)
        if not rows:
            raise PyroVAEError(f"{run_dir} has no metrics.csv rows yet; train it for an epoch")
        runs.append((Path(run_dir).name or str(run_dir), rows))
    save_training_curves(runs, output)
    print(f"wrote {output} ({plural(len(runs), 'run')})")
    return 0


COMMANDS = {
    "train": cmd_train,
    "evaluate": cmd_evaluate,
    "compare": cmd_compare,
    "sample": cmd_sample,
    "plot": cmd_plot,
    "list": cmd_list,
}


#: the commands that load Pyro (``list``, ``plot`` and ``--help`` answer without torch)
NEEDS_PYRO = {"train", "evaluate", "compare", "sample"}


def _warning_line(message, category, filename, lineno, file=None, line=None):
    print(f"pyrovae: warning: {message}", file=sys.stderr)


#: ASCII equivalents of the characters pyrovae's messages and tables use, for terminals that
#: cannot show them (anything else is written as a backslash escape)
ASCII = {
    "±": "+/-", "≥": ">=", "≤": "<=", "≠": "!=", "≈": "~", "—": "--", "–": "-", "−": "-",
    "×": "x", "·": ".", "…": "...", "’": "'", "‘": "'", "“": '"', "”": '"', "«": '"',
    "»": '"', "→": "->", "←": "<-", "√": "sqrt", "∞": "inf", "∑": "sum", "Σ": "Sigma",
    "σ": "sigma", "μ": "mu", "β": "beta", "α": "alpha", "λ": "lambda", "η": "eta",
    "τ": "tau", "ε": "eps", "θ": "theta", "φ": "phi", "π": "pi", "²": "^2", "³": "^3", "ᵀ": "^T",
    "ø": "o", "å": "a", "ä": "a", "ö": "o", "ü": "u", "é": "e", "è": "e", "\u00a0": " ",
    "\u202f": " ", "\u2009": " ",
}
#: the name of the codec error handler that writes :data:`ASCII` (registered once)
ASCII_ERRORS = "pyrovae-ascii"


def _ascii_replace(error):
    """A codec error handler: the unencodable characters as their :data:`ASCII` equivalents,
    else backslash escapes (``\\xff`` for a byte of a name that is not valid UTF-8)."""
    if not isinstance(error, UnicodeEncodeError):
        raise error
    text = error.object[error.start:error.end]
    out = []
    for char in text:
        if char in ASCII:
            out.append(ASCII[char])
        elif "\udc80" <= char <= "\udcff":  # a byte decoded with surrogateescape
            out.append(f"\\x{ord(char) - 0xdc00:02x}")
        else:
            out.append(char.encode("ascii", "backslashreplace").decode("ascii"))
    return "".join(out), error.end


codecs.register_error(ASCII_ERRORS, _ascii_replace)


def _encodable(stream):
    """Reconfigure ``stream`` with :data:`ASCII_ERRORS` if it cannot encode pyrovae's text
    (an ASCII terminal); return what to put back (``None``: unchanged)."""
    encoding = getattr(stream, "encoding", None)
    if not encoding or not hasattr(stream, "reconfigure"):
        return None
    try:
        "".join(ASCII).encode(encoding, "strict")
        return None  # it can (UTF-8)
    except (UnicodeEncodeError, LookupError):
        pass
    errors = getattr(stream, "errors", "strict")
    try:
        stream.reconfigure(errors=ASCII_ERRORS)
    except (ValueError, OSError, AttributeError):
        return None
    return errors


def _error(message):
    """Print ``message`` as the one ``pyrovae: error:`` line and return exit status 2. A newline
    inside it (a file name may hold one) is shown as ``\\n``, so the message stays one line.
    Under torchrun, ranks other than 0 name themselves."""
    from .distributed import rank_label

    who = rank_label()
    line = shown(f"pyrovae: error{who}: {message}".replace("\n", "\\n"))
    print(line, file=sys.stderr)
    return 2


def main(argv=None):
    """The ``pyrovae`` command; returns its exit status. Warnings are shown as one
    ``pyrovae: warning:`` line while it runs, and stdout and stderr write what they cannot
    encode as ASCII (:data:`ASCII`); the process's own settings are put back when it returns,
    for callers that run it in-process."""
    shown = warnings.showwarning
    warnings.showwarning = _warning_line
    streams = [(stream, _encodable(stream)) for stream in (sys.stdout, sys.stderr)]
    try:
        return _main(argv)
    finally:
        warnings.showwarning = shown
        for stream, errors in streams:
            if errors is not None:
                try:
                    stream.flush()
                    stream.reconfigure(errors=errors)
                except (ValueError, OSError, AttributeError):
                    pass


def _main(argv):
    from .signals import Terminated, handle_termination  # the standard library only

    command = "pyrovae"
    try:
        args = _parser().parse_args(argv)
        command = f"pyrovae {args.command}"
        _check_text(args)  # before anything is read or written
        if args.imports and (args.command != "train" or args.resume):
            from .plugins import import_target  # train records them: load_config imports them

            for target in args.imports:
                import_target(target, f"--import {target}")
        if args.command in NEEDS_PYRO:
            import pyro
            import torch

            pyro.enable_validation(False)  # the data are checked once, when loaded
            # before any parallel work: OpenMP's worker threads inherit the setting when they
            # start (Trainer sets it while fitting, but by then loading the data started them)
            torch.set_flush_denormal(True)
        with handle_termination():  # SIGTERM, SIGHUP: handled like Ctrl-C (pyrovae.signals)
            status = COMMANDS[args.command](args)
            if args.command in NEEDS_PYRO:
                from .distributed import finish

                finish()  # after success only: a failed rank exits, and torchrun stops the rest
        return status
    except PyroVAEError as e:
        return _error(e)
    except Terminated as e:  # the run directory's lock is released, the run stays resumable
        print(f"pyrovae: terminated by {e.name}", file=sys.stderr)
        return e.exit_status
    except KeyboardInterrupt:
        print("pyrovae: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. `pyrovae list | head`: the reader left, which is fine
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    except OSError as e:  # a file problem no command caught itself: still one line
        where = f": {e.filename}" if e.filename else ""
        return _error(f"{command} failed: {e.strerror or e}{where}; check the path and its "
                      "permissions")


if __name__ == "__main__":
    sys.exit(main())
