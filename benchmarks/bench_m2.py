"""Time an M2 epoch against a VAE epoch with the same networks.

    python benchmarks/bench_m2.py --data-dir ../shared/data      # MNIST, 100 labels
    python benchmarks/bench_m2.py --dataset digits --labels 50
    python benchmarks/bench_m2.py --data-dir ../shared/data --compile --labelled-every 500

Both models are built from configs through pyrovae's real code path (``build_model``,
``Trainer.train_epoch`` over ``DataSet.batches``) with an MLP encoder/decoder (and, for M2, a
classifier) of the same width. Summing out K classes by parallel enumeration runs the decoder K
times per unlabelled example, so an M2 epoch should cost about K times the VAE's decoder work
(plus the classifier and the labelled batches), not more. The epochs alternate (VAE, M2, VAE,
...) after one warm-up epoch each; the median of the per-pair ratios is reported.
"""

import argparse
import statistics
import sys
import time
from pathlib import Path

import pyro
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import machine  # noqa: E402

import pyrovae as pv  # noqa: E402
from pyrovae.models.base import build_model  # noqa: E402
from pyrovae.run_data import load_data  # noqa: E402


def trainer_for(args, kind):
    overrides = [
        f"data.name={args.dataset}", f"model.kind={kind}", f"model.z_dim={args.z_dim}",
        f"model.encoder.hidden=[{args.hidden}]", f"model.decoder.hidden=[{args.hidden}]",
        f"train.batch_size={args.batch_size}",
    ]  # fmt: skip
    if args.data_dir:
        overrides.append(f"data.dir={args.data_dir}")
    if kind == "m2":
        overrides += [f"data.labels={args.labels}", f"model.classifier.hidden=[{args.hidden}]",
                      f"data.labelled_every={args.labelled_every}"]
    config = pv.load_config(None, overrides)
    data = load_data(config)
    module = build_model(config, data.event_shape, data.num_classes)
    trainer = pv.Trainer(module, config.train.objective, progress=False, compile=args.compile)
    batches = data.batches(args.batch_size, seed=0, labelled_every=config.data.labelled_every)
    return trainer, batches, data


def timed_epoch(trainer, batches):
    start = time.perf_counter()
    trainer.train_epoch(batches)
    return time.perf_counter() - start


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--dataset", default="mnist")
    p.add_argument("--data-dir", default=None)
    p.add_argument("--labels", type=int, default=100)
    p.add_argument("--z-dim", type=int, default=50)
    p.add_argument("--hidden", type=int, default=400)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--labelled-every", type=int, default=1,
                   help="unlabelled batches per labelled one (1: they alternate)")
    p.add_argument("--compile", action="store_true", help="both models with the compiled step")
    args = p.parse_args()
    pyro.enable_validation(False)
    vae, vae_batches, data = trainer_for(args, "vae")
    m2, m2_batches, _ = trainer_for(args, "m2")
    k = data.num_classes
    print(machine())
    print(f"{args.dataset}: {len(data.train)} training images, {k} classes, {args.labels} labels;"
          f" MLP width {args.hidden}, z {args.z_dim}, batch {args.batch_size}, a labelled batch"
          f" every {args.labelled_every} unlabelled, compiled={args.compile}")
    timed_epoch(vae, vae_batches), timed_epoch(m2, m2_batches)  # warm-up
    pairs = [(timed_epoch(vae, vae_batches), timed_epoch(m2, m2_batches))
             for _ in range(args.repeats)]
    t_vae = statistics.median(a for a, _ in pairs)
    t_m2 = statistics.median(b for _, b in pairs)
    ratio = statistics.median(b / a for a, b in pairs)
    print(f"{'model':<6} {'s/epoch':>8}")
    print(f"{'vae':<6} {t_vae:>8.2f}")
    print(f"{'m2':<6} {t_m2:>8.2f}")
    print(f"m2 / vae = {ratio:.2f} (enumerating {k} classes: about {k}x the decoder work)")


if __name__ == "__main__":
    torch.manual_seed(0)
    main()
