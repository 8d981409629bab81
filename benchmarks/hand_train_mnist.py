"""A hand-written script that does what ``pyrovae train --dataset mnist --epochs 2`` does.

The baseline of the whole-process comparison in README (issue: start-up, loading, training,
validation, test evaluation and figures, timed with /usr/bin/time)::

    /usr/bin/time -v python benchmarks/hand_train_mnist.py --data-dir ../shared/data --out /tmp/hand
    /usr/bin/time -v pyrovae train --dataset mnist --data-dir ../shared/data --epochs 2 --out /tmp/pv

Same work as pyrovae's defaults: MNIST from the IDX files, 50 000 train / 10 000 validation /
10 000 test, dynamic binarization of the training images every epoch (the validation and test
images binarized once, with a fixed seed), the 784-400-16 ReLU MLP VAE with a diagonal Normal
q (σ = softplus + 1e-4) and a Bernoulli decoder, the Monte Carlo KL (Trace_ELBO's estimator),
Adam lr 1e-3 at batch 128; after every epoch the validation ELBO (closed-form KL) and a
checkpoint with the optimizer state; at the end the test ELBO, a grid of 64 samples, a grid of
reconstructions and a metrics file. Written directly in torch, without pyrovae or Pyro.
"""

import argparse
import csv
import gzip
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn


def read_idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    dims = data[3]
    shape = [int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(dims)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


class VAE(nn.Module):
    def __init__(self, hidden=400, z_dim=16):
        super().__init__()
        self.z_dim = z_dim
        self.enc = nn.Sequential(nn.Flatten(), nn.Linear(784, hidden), nn.ReLU(),
                                 nn.Linear(hidden, 2 * z_dim))
        self.dec = nn.Sequential(nn.Linear(z_dim, hidden), nn.ReLU(), nn.Linear(hidden, 784))

    def q(self, x):
        loc, raw = self.enc(x).split(self.z_dim, -1)
        return loc, F.softplus(raw) + 1e-4

    def log_px(self, logits, x):
        return -F.binary_cross_entropy_with_logits(logits, x.flatten(1), reduction="none").sum(-1)

    def loss(self, x):
        """−Σ ELBO with the Monte Carlo KL: log q(z|x) − log p(z) at the sampled z."""
        loc, scale = self.q(x)
        eps = torch.randn_like(loc)
        z = loc + scale * eps
        log_q = (-0.5 * eps**2 - scale.log()).sum(-1)
        log_p = (-0.5 * z**2).sum(-1)
        return -(self.log_px(self.dec(z), x) - (log_q - log_p)).sum()

    @torch.no_grad()
    def elbo(self, x):
        """Per-example ELBO with the closed-form KL."""
        loc, scale = self.q(x)
        z = loc + scale * torch.randn_like(loc)
        kl = 0.5 * (loc**2 + scale**2 - 1 - 2 * scale.log()).sum(-1)
        return self.log_px(self.dec(z), x) - kl


def save_grid(images, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from torchvision.utils import make_grid

    grid = make_grid(images.clamp(0, 1), nrow=8, padding=1, pad_value=0.5)
    grid = grid.repeat_interleave(2, -1).repeat_interleave(2, -2)
    plt.imsave(path, grid[0].numpy(), cmap="gray", vmin=0, vmax=1)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--data-dir", default="../shared/data")
    p.add_argument("--out", default="/tmp/hand-mnist")
    p.add_argument("--epochs", type=int, default=2)
    args = p.parse_args()
    start = time.perf_counter()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    raw = Path(args.data_dir) / "MNIST" / "raw"
    train = torch.from_numpy(read_idx(raw / "train-images-idx3-ubyte.gz").copy()).float() / 255
    test = torch.from_numpy(read_idx(raw / "t10k-images-idx3-ubyte.gz").copy()).float() / 255
    train, valid = train[:50_000].unsqueeze(1), train[50_000:].unsqueeze(1)
    test = test.unsqueeze(1)
    fixed = torch.Generator().manual_seed(0)
    valid, test = torch.bernoulli(valid, generator=fixed), torch.bernoulli(test, generator=fixed)
    torch.manual_seed(0)
    model = VAE()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    rows = []
    for epoch in range(1, args.epochs + 1):
        model.train()
        began = time.perf_counter()
        x = torch.bernoulli(train[torch.randperm(len(train))])
        total = 0.0
        for i in range(0, len(x), 128):
            loss = model.loss(x[i:i + 128])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            total += loss.item()
        model.eval()
        valid_elbo = torch.cat([model.elbo(valid[i:i + 1000])
                                for i in range(0, len(valid), 1000)]).mean().item()
        rows.append({"epoch": epoch, "train_loss": total / len(x), "valid_elbo": valid_elbo,
                     "epoch_seconds": time.perf_counter() - began})
        torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                    "epoch": epoch}, out / "checkpoint.pt")
        print(f"epoch {epoch}: train loss {total / len(x):.3f}, valid ELBO {valid_elbo:.3f}")
    test_elbo = torch.cat([model.elbo(test[i:i + 1000]) for i in range(0, len(test), 1000)])
    with torch.no_grad():
        save_grid(torch.sigmoid(model.dec(torch.randn(64, 16))).view(-1, 1, 28, 28),
                  out / "samples.png")
        loc, _ = model.q(test[:32])
        recon = torch.sigmoid(model.dec(loc)).view(-1, 1, 28, 28)
        save_grid(torch.cat([test[:32], recon]), out / "reconstructions.png")
    with open(out / "metrics.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    print(f"test ELBO {test_elbo.mean().item():.3f}; {time.perf_counter() - start:.1f} s")


if __name__ == "__main__":
    main()
