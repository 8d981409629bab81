"""Time the 5 000-sample importance-sampled bound (the test log-likelihood) on MNIST-sized data.

    python benchmarks/bench_eval.py                                  # random binary images
    python benchmarks/bench_eval.py --run RUN_DIR --data-dir ../shared/data --images 500
    python benchmarks/bench_eval.py --max-rows 4096,8192,16384,32768 --threads 1,2

The model is a 784-400-50 MLP Bernoulli VAE (``--run``: a trained run; else freshly built, which
costs the same per sample). For each chunk size (``max_rows``: samples × images per decoder call)
and thread count it evaluates the bound on ``--images`` images and reports images per second
and the projected time for the 10 000 MNIST test images. The work is compute-bound: about
(50·400 + 400·784) multiply-adds per sample and image in the decoder, plus the Bernoulli
log-density of 784 pixels.
"""

import argparse
import sys
import time
from pathlib import Path

import pyro
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import machine  # noqa: E402

import pyrovae as pv  # noqa: E402
from pyrovae.infer import importance_bound  # noqa: E402


def ints(text):
    return [int(v) for v in text.split(",")]


def load(args):
    if args.run:
        from pyrovae.cli import _open_run
        from pyrovae.run_data import load_data

        config, vae, _, _ = _open_run(args.run, data_dir=args.data_dir)
        return vae, load_data(config).test.x[: args.images]
    torch.manual_seed(0)
    vae = pv.VAE.build((1, 28, 28), z_dim=50)
    return vae.eval(), torch.bernoulli(torch.full((args.images, 1, 28, 28), 0.15))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--run", help="a trained run directory (default: a fresh model)")
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--images", type=int, default=100)
    parser.add_argument("--k", type=int, default=5000)
    parser.add_argument("--max-rows", type=ints, default=[4096, 8192, 16384, 32768])
    parser.add_argument("--threads", type=ints, default=[torch.get_num_threads()])
    args = parser.parse_args()
    pyro.enable_validation(False)
    vae, x = load(args)
    print(machine())
    print(f"importance-sampled bound, K = {args.k}, {x.shape[0]} images")
    print(f"{'threads':>7} {'max_rows':>8} {'images/s':>9} {'10k images':>11} {'mean L_K':>10}")
    for threads in args.threads:
        torch.set_num_threads(threads)
        for rows in args.max_rows:
            pyro.set_rng_seed(0)
            start = time.perf_counter()
            bound = importance_bound(vae, x, args.k, max_rows=rows)
            seconds = time.perf_counter() - start
            rate = x.shape[0] / seconds
            print(f"{threads:>7} {rows:>8} {rate:>9.2f} {10000 / rate / 60:>9.1f} m "
                  f"{bound.mean().item():>10.3f}", flush=True)


if __name__ == "__main__":
    main()
