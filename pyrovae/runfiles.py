"""The files of a run directory, and how each is written and read back.

::

    <run>/config.toml       the fully resolved config (every default filled in), headed by the
                            KL report as ``#`` comments
    <run>/metrics.csv       one row per epoch
    <run>/checkpoint.pt     the latest weights and training state (:mod:`pyrovae.checkpoint`)
    <run>/best.pt           the weights of the best validation epoch
    <run>/results.json      the run's summary, written last: a run without it has not finished
    <run>/samples.png, reconstructions.png, ...   figures (:mod:`pyrovae.plots`)

Every file is written by :func:`~pyrovae.files.atomic_write`.
"""

import csv
import io
import json
import math
import tomllib
from pathlib import Path

import tomli_w

from .config import config_from_dict, config_to_dict
from .errors import CheckpointError, ConfigError, PyroVAEError
from .files import atomic_write, os_error, reporting_os_errors
from .plugins import PluginError

__all__ = [
    "BEST",
    "CHECKPOINT",
    "CONFIG",
    "METRICS",
    "NUMERIC_COLUMNS",
    "RESULTS",
    "RUN_FILES",
    "jsonable",
    "load_run_config",
    "read_metrics",
    "read_results",
    "run_files",
    "write_config",
    "write_metrics",
    "write_results",
]

CONFIG = "config.toml"
METRICS = "metrics.csv"
CHECKPOINT = "checkpoint.pt"
BEST = "best.pt"
RESULTS = "results.json"
#: the files of every run, in the order ``pyrovae train`` lists them (then the figures)
RUN_FILES = (CONFIG, METRICS, CHECKPOINT, BEST, RESULTS)


def jsonable(value):
    """``value`` with non-finite floats as ``None`` (strict JSON has no NaN or infinity) and
    tuples as lists, recursively."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    return value


# -- config.toml ------------------------------------------------------------------------------


def write_config(run_dir, config, comments=()):
    """``config.toml``: the resolved config, headed by ``comments`` as ``#`` lines (the KL
    report, which TOML readers ignore)."""
    text = "".join(f"# {line}\n" for line in comments) + tomli_w.dumps(config_to_dict(config))
    data = text.encode("utf-8", errors="surrogateescape")
    return atomic_write(Path(run_dir) / CONFIG, lambda f: f.write(data))


def load_run_config(run_dir):
    """The resolved config of a run directory; its own code (``[plugins]``, a model file) is
    imported first, and refused in one line if it has changed or gone. Nothing in it is checked
    against the machine that reads it (cores, devices): a run reads the same everywhere."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise PyroVAEError(f"run directory {run_dir} does not exist")
    path = run_dir / CONFIG
    try:
        with open(path, "rb") as f:
            raw = tomllib.load(f)
    except FileNotFoundError:
        raise PyroVAEError(f"{run_dir} is not a pyrovae run: {CONFIG} is missing") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise CheckpointError(f"{path} is corrupt: {' '.join(str(e).split())}") from None
    except OSError as e:
        raise os_error(e, f"read {path}", elsewhere="a readable run") from None
    try:
        return config_from_dict(raw, where=str(path))
    except PluginError as e:  # the run's own code: changed, gone, or failing to import
        raise PluginError(f"{run_dir}: {e}") from None
    except ConfigError as e:
        raise CheckpointError(f"{path} is not a valid pyrovae config: {e}") from None


# -- metrics.csv ------------------------------------------------------------------------------


def write_metrics(run_dir, rows):
    """Write all epoch rows (dicts) to ``metrics.csv``: one column per key seen in any row (in
    order of appearance, the wall time last), an empty cell where a row lacks it (the
    validation columns of epochs without validation). Floats are written with ``repr``, so
    :func:`read_metrics` gives back exactly the numbers written."""
    buffer = io.StringIO()
    fields = list(dict.fromkeys(key for row in rows for key in row))
    if "epoch_seconds" in fields:
        fields.append(fields.pop(fields.index("epoch_seconds")))
    writer = csv.DictWriter(buffer, fieldnames=fields)
    writer.writeheader()
    writer.writerows(rows)
    data = buffer.getvalue().encode()
    return atomic_write(Path(run_dir) / METRICS, lambda f: f.write(data))


#: the columns that hold numbers in every row that has them (the others, e.g.
#: ``valid_kl_method``, may hold text)
NUMERIC_COLUMNS = ("epoch", "train_loss", "kl_weight", "lr", "valid_elbo",
                   "valid_reconstruction", "valid_kl", "epoch_seconds")


def read_metrics(run_dir):
    """The rows of a run's ``metrics.csv``: numbers as ``int``/``float``, empty cells dropped,
    other text kept (e.g. ``valid_kl_method``); ``[]`` if there is no such file (or it is
    empty). A file that is not what :func:`write_metrics` writes (not UTF-8 text, not CSV, a
    header without ``epoch`` or with a repeated or empty name, a row of another length, an
    epoch that is not a whole number above the last one, text in a column of numbers) raises
    :class:`~pyrovae.errors.CheckpointError` in one line naming what is wrong."""
    path = Path(run_dir) / METRICS
    if not path.exists():
        return []
    with reporting_os_errors(f"read {path}"), open(path, "rb") as f:
        data = f.read()

    def corrupt(why):
        return CheckpointError(f"{path} is corrupt: {why}; restore it from a copy, or delete it "
                               "(the checkpoints do not depend on it; its rows are lost)")

    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise corrupt(f"byte {e.start} is not UTF-8 text") from None
    if not text.strip():
        return []
    try:
        table = list(csv.reader(io.StringIO(text, newline=""), strict=True))
    except csv.Error as e:
        raise corrupt(f"it is not CSV ({e})") from None
    header, rows = table[0], [row for row in table[1:] if row]
    if "epoch" not in header:
        raise corrupt(f"its header has no 'epoch' column (it starts {', '.join(header[:3])!r})")
    names = [name for name in header if name.strip()]
    if len(names) != len(header) or len(set(header)) != len(header):
        raise corrupt("its header has an empty or a repeated column name")
    parsed, last = [], None
    for number, row in enumerate(rows, start=2):
        if len(row) != len(header):
            raise corrupt(f"row {number} has {len(row)} values for {len(header)} columns (a "
                          "truncated or edited file)")
        out = {}
        for key, cell in zip(header, row):
            if cell == "":
                continue
            try:
                out[key] = int(cell)
            except ValueError:
                try:
                    out[key] = float(cell)
                except ValueError:
                    if key in NUMERIC_COLUMNS:
                        raise corrupt(f"row {number} has {cell[:20]!r} in the column {key}, "
                                      "which holds numbers") from None
                    out[key] = cell
        epoch = out.get("epoch")
        if not isinstance(epoch, int) or epoch < 0 or (last is not None and epoch <= last):
            raise corrupt(f"row {number} has epoch {row[header.index('epoch')][:20]!r}, not a "
                          f"whole number above {last if last is not None else -1}")
        last = epoch
        parsed.append(out)
    return parsed


# -- results.json -----------------------------------------------------------------------------


def write_results(run_dir, result):
    """``results.json``: the run's summary (:meth:`pyrovae.training.session.Session.results`),
    as strict JSON (NaN and infinities become ``null``). It is written last: its presence says
    the run has finished, reports and figures included."""
    text = (json.dumps(jsonable(result), indent=2) + "\n").encode()
    return atomic_write(Path(run_dir) / RESULTS, lambda f: f.write(text))


def read_results(run_dir):
    """The dict of ``results.json``, or ``None`` when the run has none (it has not finished) or
    it cannot be read as a JSON object."""
    try:
        with open(Path(run_dir) / RESULTS) as f:
            result = json.load(f)
    except (OSError, ValueError):
        return None
    return result if isinstance(result, dict) else None


def run_files(run_dir):
    """The names of the files a run wrote: ``results.json``'s ``files`` (the run's own files
    and its kind's figures, as they were written), or for a run without it those of
    :data:`RUN_FILES` that exist."""
    files = (read_results(run_dir) or {}).get("files")
    if not isinstance(files, list):
        files = [name for name in RUN_FILES if (Path(run_dir) / name).exists()]
    return [str(name) for name in files]
