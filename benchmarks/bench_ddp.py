"""Throughput of data-parallel training: ``pyrovae train`` on 1 rank against 2 ranks (torchrun).

    python benchmarks/bench_ddp.py                                   # MNIST, if ../shared/data has it
    python benchmarks/bench_ddp.py --dataset digits --epochs 6       # the built-in data set
    python benchmarks/bench_ddp.py --ranks 1 2 4 --repeats 3

Both sides are the real command, started as a user would: ``pyrovae train`` for one rank,
``torchrun --standalone --nproc_per_node=N -m pyrovae train`` for N. The same global batch,
seed and epochs; threads per rank are the machine's cores divided by the ranks (pyrovae's
default under torchrun; one rank uses all cores). Throughput is training images per second
of epoch time (``epoch_seconds`` in metrics.csv, which excludes start-up, validation and
figures), from the epochs after the first; the configurations alternate (1, 2, 1, 2, ...) so a
change in the machine's load falls on both, and the median over repeats is reported.
"""

import argparse
import csv
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run(ranks, args, out):
    cores = os.cpu_count() or 1
    env = {**os.environ, "OMP_NUM_THREADS": str(max(1, cores // ranks)),
           "PYTHONWARNINGS": "ignore"}
    train = ["-m", "pyrovae", "train", "--dataset", args.dataset, "--epochs", str(args.epochs),
             "--out", str(out), "--quiet", "--set", f"train.batch_size={args.batch_size}",
             "--set", "train.eval_every=1000"]
    if args.data_dir:
        train += ["--data-dir", args.data_dir]
    if ranks == 1:
        cmd = [sys.executable, *train]
    else:
        cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone",
               f"--nproc_per_node={ranks}", *train]
    subprocess.run(cmd, check=True, env=env, cwd=ROOT, capture_output=True, text=True)
    with open(Path(out) / "metrics.csv") as f:
        rows = list(csv.DictReader(f))
    seconds = sum(float(r["epoch_seconds"]) for r in rows[1:])  # the first epoch warms up
    return seconds / max(1, len(rows) - 1)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    shared = ROOT.parent / "shared" / "data"
    parser.add_argument("--dataset", default="mnist" if (shared / "MNIST").is_dir() else "digits")
    parser.add_argument("--data-dir", default=str(shared) if shared.is_dir() else None)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--ranks", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()

    sys.path.insert(0, str(ROOT))
    import pyrovae as pv

    data = pv.load_dataset(args.dataset, data_dir=args.data_dir)
    n = len(data.train)
    print(f"{args.dataset}: {n} training images, batch {args.batch_size}, {args.epochs} epochs "
          f"(timing epochs 2..{args.epochs}), {os.cpu_count()} cores; threads per rank = "
          "cores / ranks")
    times = {r: [] for r in args.ranks}
    with tempfile.TemporaryDirectory() as tmp:
        for repeat in range(args.repeats):
            for ranks in args.ranks:
                seconds = run(ranks, args, Path(tmp) / f"r{ranks}-{repeat}")
                times[ranks].append(seconds)
                print(f"  repeat {repeat + 1}, {ranks} rank(s): {seconds:.2f} s per epoch",
                      flush=True)
    base = statistics.median(times[args.ranks[0]])
    print(f"{'ranks':>5}  {'s/epoch':>8}  {'images/s':>9}  {'speed-up':>8}")
    for ranks in args.ranks:
        seconds = statistics.median(times[ranks])
        print(f"{ranks:>5}  {seconds:>8.2f}  {n / seconds:>9.0f}  {base / seconds:>7.2f}x")


if __name__ == "__main__":
    main()
