"""Time pyrovae's training step against a hand-written PyTorch loop, interleaved in one process.

    python benchmarks/bench_train.py                       # batch 128 and 32, trace and meanfield
    python benchmarks/bench_train.py --epoch --data-dir ../shared/data   # + a full MNIST epoch

pyrovae's side is its real code path: ``VAE.build`` from names, ``Trainer.step`` (a Pyro ELBO's
``differentiable_loss`` on the model and guide, a torch optimizer), validation off as in the CLI.
The baseline is :class:`common.HandVAE`: the same network and loss written directly in torch.
Each configuration is warmed up, then the two are run alternately (A, B, A, B, ...) and the
median per-repeat ratio pyrovae / torch is reported.
"""

import argparse
import sys
from pathlib import Path

import pyro
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import HandVAE, hand_step, interleaved, machine, time_steps  # noqa: E402

import pyrovae as pv  # noqa: E402


def build_pair(args, objective, seed=0):
    torch.manual_seed(seed)
    vae = pv.VAE.build(
        (1, 28, 28),
        z_dim=args.z_dim,
        prior=args.prior,
        likelihood=args.likelihood,
        encoder={"name": "mlp", "hidden": [args.hidden]},
        decoder={"name": "mlp", "hidden": [args.hidden]},
    )
    trainer = pv.Trainer(vae, objective=objective, lr=1e-3, progress=False, **args.trainer)
    hand = HandVAE(784, args.hidden, args.z_dim, mc_kl=objective == "trace")
    hand_opt = torch.optim.Adam(hand.parameters(), lr=1e-3)
    return trainer, hand_step(hand, hand_opt)


def bench_steps(args, objective, batch_size):
    trainer, hand = build_pair(args, objective)
    data = torch.bernoulli(torch.rand(args.steps, batch_size, 1, 28, 28))
    batches = list(data)
    for _ in range(args.warmup):
        trainer.step(batches[0])
        hand(batches[0])
    t_pv, t_torch, ratio = interleaved(
        lambda: time_steps(trainer.step, batches),
        lambda: time_steps(hand, batches),
        args.repeats,
    )
    return t_pv / args.steps * 1e3, t_torch / args.steps * 1e3, ratio


def bench_epoch(args, objective, batch_size):
    data = pv.load_dataset("mnist", data_dir=args.data_dir, binarize="dynamic")
    trainer, hand = build_pair(args, objective)
    module = trainer.module
    pv_batches = module.batches(data, batch_size, seed=0)
    x_train = data.train.x

    def hand_epoch():
        perm = torch.randperm(x_train.shape[0])
        xs = torch.bernoulli(x_train[perm])
        return time_steps(hand, [xs[i : i + batch_size] for i in range(0, len(xs), batch_size)])

    def pv_epoch():
        return time_steps(lambda xy: trainer.step(*xy), pv_batches)

    pv_epoch(), hand_epoch()  # warm-up epoch each
    return interleaved(pv_epoch, hand_epoch, args.epoch_repeats)


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
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: default)")
    p.add_argument("--epoch", action="store_true", help="also time full MNIST epochs")
    p.add_argument("--epoch-batch-size", type=int, default=256)
    p.add_argument("--epoch-repeats", type=int, default=3)
    p.add_argument("--data-dir", default="../shared/data")
    args = p.parse_args()
    args.trainer = {}
    if args.threads:
        torch.set_num_threads(args.threads)
    pyro.enable_validation(False)  # as in `pyrovae train`

    print(machine())
    print(f"VAE 784-{args.hidden}-{args.z_dim}, prior {args.prior}, likelihood {args.likelihood}")
    print(f"{'objective':<10} {'batch':>5} {'pyrovae ms':>11} {'torch ms':>9} {'ratio':>6}")
    for objective in args.objective:
        for batch_size in args.batch_size:
            ms_pv, ms_torch, ratio = bench_steps(args, objective, batch_size)
            print(f"{objective:<10} {batch_size:>5} {ms_pv:>11.2f} {ms_torch:>9.2f} {ratio:>6.3f}")
    if args.epoch:
        print(f"\nMNIST epoch (50 000 images, batch {args.epoch_batch_size}, dynamic binarization)")
        print(f"{'objective':<10} {'pyrovae s':>10} {'torch s':>8} {'ratio':>6}")
        for objective in args.objective:
            s_pv, s_torch, ratio = bench_epoch(args, objective, args.epoch_batch_size)
            print(f"{objective:<10} {s_pv:>10.2f} {s_torch:>8.2f} {ratio:>6.3f}")


if __name__ == "__main__":
    main()
