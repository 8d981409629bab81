"""Pyro's own SS-VAE (M2) training, rebuilt with Pyro's SVI, on pyrovae's splits and labels.

    python benchmarks/m2_pyro_reference.py --data-dir ../shared/data --labels 100 --epochs 50

pyrovae's M2 recipes are measured against the figures of Pyro's SS-VAE tutorial (93.19 % test
accuracy at 100 labels). This script is the reference those recipes lose to, written from the
description of Pyro's example (``examples/vae/ss_vae_M2.py``) with nothing of pyrovae but the
data: the same MNIST split (50 000 / 10 000 / 10 000, grey levels /255) and the same kept
labels (``data.split_seed``), so that the two can be compared on equal terms. What it keeps of
the example:

* networks: q(y|x) 784-500-10 softplus with a softmax, q(z|x,y) [x, onehot(y)]-500-(50, 50)
  with exp for the scale, p(x|y,z) [z, onehot(y)]-500-784 with a sigmoid; hidden layers'
  weights and biases drawn from N(0, 0.001²), output layers PyTorch's default;
* p(z) = N(0, I), p(y) uniform, a Bernoulli on grey levels;
* ``SVI(model, config_enumerate(guide, "parallel", expand=True), Adam, TraceEnum_ELBO)`` and
  the auxiliary ``SVI(model_classify, guide_classify, Adam, Trace_ELBO)`` with the multiplier
  46, both stepping **one shared** ``pyro.optim.Adam`` (lr 0.00042, betas (0.9, 0.999)) on
  every batch: on an unlabelled batch the auxiliary SVI has no sample site, so it steps Adam
  with the zero gradients its predecessor left (Pyro's ``SVI.step`` zeroes, not deletes, them);
* batch 100 with 100 labels (200 otherwise), one labelled batch at position 1 of every
  ``50 000 // labels`` batches, so each labelled example is seen once per epoch;
* the reported test accuracy is the one at the epoch of best validation accuracy (the
  example's rule); the last epoch's is printed too.

Measured on this project's 2-core VM: README, "M2 on MNIST against Pyro's tutorial and
Kingma et al."
"""

import argparse
import sys
import time
from pathlib import Path

import pyro
import pyro.distributions as dist
import torch
from pyro.infer import SVI, Trace_ELBO, TraceEnum_ELBO, config_enumerate
from pyro.optim import Adam
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import machine  # noqa: E402

import pyrovae as pv  # noqa: E402
from pyrovae.run_data import load_data  # noqa: E402


class Exp(nn.Module):
    def forward(self, value):
        return torch.exp(value)


class MLP(nn.Module):
    """``inputs`` concatenated (broadcast over an enumeration dimension) -> softplus hidden
    layers initialized N(0, 0.001²) -> one linear output layer per ``(size, activation)``."""

    def __init__(self, in_features, hidden, outputs):
        super().__init__()
        layers, last = [], in_features
        for width in hidden:
            linear = nn.Linear(last, width)
            linear.weight.data.normal_(0, 0.001)
            linear.bias.data.normal_(0, 0.001)
            layers += [linear, nn.Softplus()]
            last = width
        self.body = nn.Sequential(*layers)
        self.heads = nn.ModuleList(nn.Sequential(nn.Linear(last, size), act)
                                   for size, act in outputs)

    def forward(self, *inputs):
        batch = torch.broadcast_shapes(*(t.shape[:-1] for t in inputs))
        h = self.body(torch.cat([t.expand(batch + t.shape[-1:]) for t in inputs], -1))
        out = [head(h) for head in self.heads]
        return out[0] if len(out) == 1 else out


class SSVAE(nn.Module):
    """M2 as Pyro's example writes it (one-hot labels, probabilities out of the networks)."""

    def __init__(self, x_dim=784, k=10, z_dim=50, hidden=(500,), aux=46.0):
        super().__init__()
        self.k, self.z_dim, self.aux = k, z_dim, aux
        self.encoder_y = MLP(x_dim, hidden, [(k, nn.Softmax(dim=-1))])
        self.encoder_z = MLP(x_dim + k, hidden, [(z_dim, nn.Identity()), (z_dim, Exp())])
        self.decoder = MLP(z_dim + k, hidden, [(x_dim, nn.Sigmoid())])

    def model(self, xs, ys=None):
        pyro.module("ss_vae", self)
        b = xs.shape[0]
        with pyro.plate("data"):
            zs = pyro.sample("z", dist.Normal(xs.new_zeros(b, self.z_dim),
                                              xs.new_ones(b, self.z_dim)).to_event(1))
            ys = pyro.sample("y", dist.OneHotCategorical(xs.new_ones(b, self.k) / self.k),
                             obs=ys)
            probs = self.decoder(zs, ys)
            pyro.sample("x", dist.Bernoulli(probs, validate_args=False).to_event(1), obs=xs)

    def guide(self, xs, ys=None):
        with pyro.plate("data"):
            if ys is None:
                ys = pyro.sample("y", dist.OneHotCategorical(self.encoder_y(xs)))
            loc, scale = self.encoder_z(xs, ys)
            pyro.sample("z", dist.Normal(loc, scale).to_event(1))

    def model_classify(self, xs, ys=None):
        pyro.module("ss_vae", self)
        with pyro.plate("data"):
            if ys is not None:
                with pyro.poutine.scale(scale=self.aux):
                    pyro.sample("y_aux", dist.OneHotCategorical(self.encoder_y(xs)), obs=ys)

    def guide_classify(self, xs, ys=None):
        pass

    @torch.no_grad()
    def accuracy(self, x, y):
        return (self.encoder_y(x).argmax(-1) == y).double().mean().item()


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data-dir", default="../shared/data")
    p.add_argument("--labels", type=int, default=100)
    p.add_argument("--split-seed", type=int, default=0, help="pyrovae's data.split_seed")
    p.add_argument("--epochs", type=int, default=50)
    p.add_argument("--aux", type=float, default=46.0, help="auxiliary loss multiplier")
    p.add_argument("--lr", type=float, default=0.00042)
    p.add_argument("--beta1", type=float, default=0.9)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    pyro.set_rng_seed(args.seed)
    config = pv.load_config(None, ["data.name=mnist", f"data.dir={args.data_dir}",
                                   "data.binarize=none", f"data.labels={args.labels}",
                                   f"data.split_seed={args.split_seed}", "model.kind=m2"])
    data = load_data(config)
    flat = {s: data.split(s).x.reshape(len(data.split(s)), -1) for s in ("train", "valid", "test")}
    k = data.num_classes
    labelled = data.labelled
    keep = torch.zeros(len(data.train), dtype=torch.bool)
    keep[labelled] = True
    x_sup, y_sup = flat["train"][labelled], data.train.y[labelled]
    x_unsup = flat["train"][~keep]
    batch = 100 if args.labels <= 100 else 200
    period = len(data.train) // args.labels

    vae = SSVAE(x_dim=flat["train"].shape[1], k=k, aux=args.aux)
    adam = Adam({"lr": args.lr, "betas": (args.beta1, 0.999)})
    basic = SVI(vae.model, config_enumerate(vae.guide, "parallel", expand=True), adam,
                loss=TraceEnum_ELBO(max_plate_nesting=1, strict_enumeration_warning=False))
    aux = SVI(vae.model_classify, vae.guide_classify, adam, loss=Trace_ELBO())
    print(machine())
    print(f"Pyro's SS-VAE on pyrovae's MNIST split: {args.labels} labels (split_seed "
          f"{args.split_seed}), batch {batch}, a labelled batch every {period}, aux {args.aux}")
    best = (-1.0, None, 0)
    start = time.perf_counter()
    for epoch in range(1, args.epochs + 1):
        tick = time.perf_counter()
        order_u = torch.randperm(len(x_unsup))
        order_s = torch.randperm(len(x_sup))
        n_u, n_s = -(-len(x_unsup) // batch), -(-len(x_sup) // batch)
        used_s = used_u = 0
        for i in range(n_u + n_s):
            if i % period == 1 and used_s < n_s:
                j = order_s[used_s * batch:(used_s + 1) * batch]
                used_s += 1
                ys = nn.functional.one_hot(y_sup[j], k).to(x_sup.dtype)
                basic.step(x_sup[j], ys)
                aux.step(x_sup[j], ys)
            else:
                j = order_u[used_u * batch:(used_u + 1) * batch]
                used_u += 1
                basic.step(x_unsup[j])
                aux.step(x_unsup[j])
        valid = vae.accuracy(flat["valid"], data.valid.y)
        test = vae.accuracy(flat["test"], data.test.y)
        if valid > best[0]:
            best = (valid, test, epoch)
        print(f"epoch {epoch:3d}  valid accuracy {valid:.4f}  test accuracy {test:.4f}  "
              f"{time.perf_counter() - tick:.1f} s", flush=True)
    print(f"best validation accuracy {best[0]:.4f} (epoch {best[2]}), test accuracy there "
          f"{best[1]:.4f}; last epoch's test accuracy {test:.4f}; "
          f"{time.perf_counter() - start:.0f} s in all")


if __name__ == "__main__":
    main()
