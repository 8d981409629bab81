"""pythae's VAE reproduction on Larochelle's binarized MNIST, written directly in torch.

The reference run for the ``vae-static`` recipe (issue 21): a hand-written replica of what
pythae's ``examples/scripts/reproducibility/vae.py`` does with its binary-MNIST configs
(``latent_dim`` 40, ``reconstruction_loss`` "bce"; batch 100, lr 1e-4, 500 epochs), without
pyrovae or Pyro, so that its validation curve can be set beside pyrovae's at the same epochs:

- data: ``binarized_mnist_{train,valid,test}.amat.gz`` read with numpy; training on the 50 000
  training images only, reshuffled every epoch;
- networks: encoder 784-400 (ReLU) with two linear heads, the mean and log σ² of q(z|x);
  decoder 40-400 (ReLU)-784 with a sigmoid (here: logits and ``binary_cross_entropy_with_logits``,
  the same density without the sigmoid's saturation); torch's default initialization;
- loss: the mean over the batch of −ELBO with the closed-form KL
  ½ Σ_j (μ_j² + σ_j² − 1 − log σ_j²) and one reparameterized draw for the reconstruction;
- Adam (torch defaults: betas 0.9/0.999, ε 1e-8) at lr 1e-4, multiplied by 10^(−1/5) at epochs
  200, 350, 500, 750 and 1 000 (``MultiStepLR`` stepped once an epoch);
- every ``--eval-every`` epochs: the validation ELBO (closed-form KL, one draw per image);
- at the end: the importance-sampled bound ``log (1/K) Σ_k p(x, z_k)/q(z_k|x)`` on the test set
  (``--iwae-k``; pythae reports K = 200 repeated 5 times, the last epoch's model).

The options change one thing at a time, for the paired runs of the results page:
``--scale softplus`` (σ = softplus(raw) + 1e-4, pyrovae's default, instead of exp(½ log σ²)),
``--kl mc`` (Trace_ELBO's Monte Carlo KL, log q(z|x) − log p(z) at the drawn z), ``--reduction
sum`` (the batch's summed loss, as Pyro's ELBO gives, instead of the mean).

    python benchmarks/pythae_vae_static.py --data-dir ../shared/data --epochs 100 --out runs/pythae-ref.csv
"""

import argparse
import csv
import math
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn


def load(data_dir, split):
    path = Path(data_dir) / "binarized_mnist" / f"binarized_mnist_{split}.amat.gz"
    return torch.from_numpy(np.loadtxt(path, dtype=np.float32))


class VAE(nn.Module):
    def __init__(self, scale="exp", z_dim=40, hidden=400):
        super().__init__()
        self.scale = scale
        self.body = nn.Sequential(nn.Linear(784, hidden), nn.ReLU())
        self.mean = nn.Linear(hidden, z_dim)
        self.raw_scale = nn.Linear(hidden, z_dim)  # log σ² (exp) or softplus⁻¹(σ − 1e-4)
        self.dec = nn.Sequential(nn.Linear(z_dim, hidden), nn.ReLU(), nn.Linear(hidden, 784))

    def q(self, x):
        h = self.body(x)
        raw = self.raw_scale(h)
        sigma = torch.exp(0.5 * raw) if self.scale == "exp" else F.softplus(raw) + 1e-4
        return self.mean(h), sigma

    def log_px(self, z, x):
        return -F.binary_cross_entropy_with_logits(self.dec(z), x.expand(z.shape[:-1] + x.shape[-1:]),
                                                   reduction="none").sum(-1)

    def elbo(self, x, kl="analytic"):
        """Per-example ELBO with one reparameterized draw."""
        mu, sigma = self.q(x)
        eps = torch.randn_like(mu)
        z = mu + sigma * eps
        if kl == "analytic":
            kl_term = 0.5 * (mu**2 + sigma**2 - 1 - 2 * sigma.log()).sum(-1)
        else:  # log q(z|x) − log p(z) at the drawn z (the 2π terms cancel)
            kl_term = (-0.5 * eps**2 - sigma.log() + 0.5 * z**2).sum(-1)
        return self.log_px(z, x) - kl_term

    def bound(self, x, k, chunk=500):
        """log (1/K) Σ_k p(x|z_k) p(z_k) / q(z_k|x), z_k ~ q(z|x), per example."""
        mu, sigma = self.q(x)
        logs = []
        for start in range(0, k, chunk):
            n = min(chunk, k - start)
            eps = torch.randn((n,) + mu.shape)
            z = mu + sigma * eps
            log_w = (self.log_px(z, x) - 0.5 * (z**2).sum(-1)
                     + (0.5 * eps**2 + sigma.log()).sum(-1))
            logs.append(log_w)
        return torch.logsumexp(torch.cat(logs), 0) - math.log(k)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data-dir", default="../shared/data")
    ap.add_argument("--epochs", type=int, default=500)
    ap.add_argument("--eval-every", type=int, default=5)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--scale", choices=["exp", "softplus"], default="exp")
    ap.add_argument("--kl", choices=["analytic", "mc"], default="analytic")
    ap.add_argument("--reduction", choices=["mean", "sum"], default="mean")
    ap.add_argument("--iwae-k", type=int, nargs="*", default=[],
                    help="test bounds at the end, one per K (e.g. 200 5000)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", required=True, help="CSV of epoch, train loss, validation ELBO")
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    train, valid = load(args.data_dir, "train"), load(args.data_dir, "valid")
    model = VAE(args.scale)
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)
    sched = torch.optim.lr_scheduler.MultiStepLR(opt, [200, 350, 500, 750, 1000], 10 ** (-1 / 5))
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "w", newline="") as f:
        rows = csv.writer(f)
        rows.writerow(["epoch", "train_loss", "valid_elbo", "epoch_seconds"])
        for epoch in range(1, args.epochs + 1):
            start, total = time.perf_counter(), 0.0
            for idx in torch.randperm(len(train)).split(100):
                elbo = model.elbo(train[idx], args.kl)
                loss = -(elbo.mean() if args.reduction == "mean" else elbo.sum())
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                total += -elbo.detach().sum().item()
            sched.step()
            seconds = time.perf_counter() - start
            valid_elbo = ""
            if epoch % args.eval_every == 0 or epoch == args.epochs:
                with torch.no_grad():
                    valid_elbo = torch.cat([model.elbo(b) for b in valid.split(1000)]).mean().item()
            rows.writerow([epoch, total / len(train), valid_elbo, seconds])
            f.flush()
        test = load(args.data_dir, "test") if args.iwae_k else None
        for k in args.iwae_k:
            start = time.perf_counter()
            with torch.no_grad():
                b = torch.cat([model.bound(x, k) for x in test.split(100)])
            se = b.std().item() / math.sqrt(len(b))
            rows.writerow([f"# test NLL (K = {k}, last epoch): {-b.mean().item():.2f} ± {se:.2f} "
                           f"({time.perf_counter() - start:.0f} s)"])
            f.flush()
    torch.save(model.state_dict(), out.with_suffix(".pt"))


if __name__ == "__main__":
    main()
