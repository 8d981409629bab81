"""Time pyrovae's training step against a hand-written PyTorch loop, interleaved in one process.

    python benchmarks/bench_train.py                       # batch 128 and 32, trace and meanfield
    python benchmarks/bench_train.py --epoch --data-dir ../shared/data   # + full MNIST epochs
    python benchmarks/bench_train.py --batch-size 256 128 32 --objective trace

Four steps are timed: pyrovae eager (``Trainer.step``), pyrovae compiled (``Trainer(...,
compile=True)``, :mod:`pyrovae.compiled`; its trace and compilation happen in the warm-up and
are not timed) and two hand-written loops.

pyrovae's side is its real code path: ``VAE.build`` from names, ``Trainer.step`` (a Pyro ELBO's
``differentiable_loss`` on the model and guide, then a torch optimizer step), validation off as
in the CLI. The baselines are :class:`common.HandVAE`, the same network and loss written
directly in torch, stepped by ``torch.optim.Adam`` as a hand-written loop would (``torch``) and
with its fused kernel (``torch-fused``, the optimizer pyrovae uses by default). Each
configuration is warmed up, then the runs alternate (A, B, C, A, B, C, ...) and the median of
the per-repeat ratios is reported.
"""

import argparse
import statistics
import sys
from pathlib import Path

import pyro
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (  # noqa: E402
    HandVAE,
    hand_step,
    interleaved,
    machine,
    median_ratio,
    time_steps,
)

import pyrovae as pv  # noqa: E402


def build(args, objective, seed=0):
    """pyrovae's trainers (eager, and compiled unless ``--no-compiled``) and the two
    hand-written steps, all from the same initial weights."""
    trainers, steps = {}, {}
    for name, compiled in (("pyrovae", False), ("compiled", True)):
        if compiled and args.no_compiled:
            continue
        torch.manual_seed(seed)
        vae = pv.VAE.build(
            (1, 28, 28),
            z_dim=args.z_dim,
            prior=args.prior,
            likelihood=args.likelihood,
            encoder={"name": "mlp", "hidden": [args.hidden]},
            decoder={"name": "mlp", "hidden": [args.hidden]},
        )
        trainer = pv.Trainer(vae, objective=objective, lr=1e-3,
                             progress=False, compile=compiled)
        trainers[name] = trainer
        steps[name] = trainer.step
    for name, fused in (("torch", None), ("torch-fused", True)):
        torch.manual_seed(seed)
        hand = HandVAE(784, args.hidden, args.z_dim, mc_kl=objective == "trace")
        steps[name] = hand_step(hand, torch.optim.Adam(hand.parameters(), lr=1e-3, fused=fused))
    return trainers, steps


def bench_steps(args, objective, batch_size):
    _, steps = build(args, objective)
    batches = list(torch.bernoulli(torch.rand(args.steps, batch_size, 1, 28, 28)))
    for step in steps.values():
        for _ in range(args.warmup):
            step(batches[0])
    runs = {name: (lambda step=step: time_steps(step, batches)) for name, step in steps.items()}
    return interleaved(runs, args.repeats)


def bench_epoch(args, objective, batch_size, data):
    trainers, steps = build(args, objective)
    x_train = data.train.x

    def hand_epoch(step):
        perm = torch.randperm(x_train.shape[0])
        xs = torch.bernoulli(x_train[perm])
        return time_steps(step, [xs[i : i + batch_size] for i in range(0, len(xs), batch_size)])

    def pyrovae_epoch(trainer, batches):
        return time_steps(lambda xy: trainer.step(*xy), batches)

    runs = {name: (lambda t=t, b=data.batches(batch_size, seed=0): pyrovae_epoch(t, b))
            for name, t in trainers.items()}
    runs["torch"] = lambda: hand_epoch(steps["torch"])
    runs["torch-fused"] = lambda: hand_epoch(steps["torch-fused"])
    for run in runs.values():  # one warm-up epoch each (traces and compiles)
        run()
    return interleaved(runs, args.epoch_repeats)


def report(label, times, scale, unit):
    med = {name: statistics.median(t) * scale for name, t in times.items()}
    cells = [f"{med[name]:>12.2f}" for name in times]
    ratios = [f"{median_ratio(times, mine, base):>17.3f}" for mine in times
              if mine in ("pyrovae", "compiled") for base in ("torch", "torch-fused")]
    print(f"{label} {''.join(cells)} {''.join(ratios)}   ({unit})")


def header(times_names):
    cells = "".join(f"{name:>12}" for name in times_names)
    ratios = "".join(f"{f'{m}/{b}':>17}" for m in times_names if m in ("pyrovae", "compiled")
                     for b in ("torch", "torch-fused"))
    return f"{cells} {ratios}"


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--prior", default="normal")
    p.add_argument("--likelihood", default="bernoulli")
    p.add_argument("--objective", nargs="+", default=["trace", "meanfield"])
    p.add_argument("--batch-size", type=int, nargs="+", default=[128, 32])
    p.add_argument("--z-dim", type=int, default=50)
    p.add_argument("--hidden", type=int, default=400)
    p.add_argument("--steps", type=int, default=50, help="steps per timed block")
    p.add_argument("--warmup", type=int, default=20)
    p.add_argument("--repeats", type=int, default=15)
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    p.add_argument("--no-compiled", action="store_true", help="leave out the compiled step")
    p.add_argument("--epoch", action="store_true", help="also time full MNIST epochs")
    p.add_argument("--epoch-batch-size", type=int, default=256)
    p.add_argument("--epoch-repeats", type=int, default=3)
    p.add_argument("--data-dir", default="../shared/data")
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    pyro.enable_validation(False)  # as in `pyrovae train`

    print(machine())
    print(f"VAE 784-{args.hidden}-{args.z_dim}, prior {args.prior}, likelihood "
          f"{args.likelihood}; median of {args.repeats} interleaved "
          f"repeats of {args.steps} steps")
    names = [n for n in ("pyrovae", "compiled", "torch", "torch-fused")
             if not (n == "compiled" and args.no_compiled)]
    print(f"{'objective':<10} {'batch':>5} {header(names)}")
    for objective in args.objective:
        for batch_size in args.batch_size:
            times = bench_steps(args, objective, batch_size)
            report(f"{objective:<10} {batch_size:>5}", times, 1e3 / args.steps, "ms per step")
    if args.epoch:
        data = pv.load_dataset("mnist", data_dir=args.data_dir, binarize="dynamic")
        # (the compiled trainer compiles a second graph for the epoch's last, smaller batch)
        print(f"\nMNIST epoch ({len(data.train)} images, batch {args.epoch_batch_size}, dynamic "
              f"binarization), median of {args.epoch_repeats} interleaved epochs")
        print(f"{'objective':<16} {header(names)}")
        for objective in args.objective:
            times = bench_epoch(args, objective, args.epoch_batch_size, data)
            report(f"{objective:<16}", times, 1.0, "s per epoch")


if __name__ == "__main__":
    main()
