"""Quadrant completion: a trained ``cvae-quadrants`` run against a deterministic network.

    python benchmarks/cvae_quadrants.py runs/cvae-quadrants --data-dir ../shared/data

As in Pyro's CVAE example, the baseline is a network from the observed pixels (hidden ones set
to −1) to Bernoulli probabilities of every pixel, 784-500-500-784 ReLU, trained here on the
run's training split by the cross-entropy of the hidden pixels (Adam lr 1e-3, batch 128, early
stopping after 3 epochs without a better validation loss). On the test images it reports, in
nats per image (hidden pixels only; with grey levels these are cross-entropies, as in Pyro):

* the baseline's negative log-likelihood −log p(x_h | c), one deterministic prediction;
* the CVAE's −ELBO (10 draws of z per image, Pyro's table's estimate) and −L_K, the
  importance-sampled bound, which is closer to −log p(x_h | c).
"""

import argparse
import copy
import sys
import time
from pathlib import Path

import pyro
import torch
import torch.nn.functional as F
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import machine  # noqa: E402

from pyrovae.infer.elbo import evaluate_elbo  # noqa: E402
from pyrovae.infer.importance import evaluate_log_likelihood  # noqa: E402
from pyrovae.runs import open_run  # noqa: E402
from pyrovae.run_data import load_data  # noqa: E402


def baseline_net(pixels):
    return nn.Sequential(nn.Linear(pixels, 500), nn.ReLU(), nn.Linear(500, 500), nn.ReLU(),
                         nn.Linear(500, pixels))


def hidden_nll(net, model, x):
    """Σ over hidden pixels of the cross-entropy, per image."""
    flat = x.reshape(x.shape[0], -1)
    logits = net(model.condition(x).reshape(x.shape[0], -1))
    hidden = (~model.visible).reshape(-1)
    return F.binary_cross_entropy_with_logits(logits, flat, reduction="none")[:, hidden].sum(-1)


def train_baseline(model, data, max_epochs, seed):
    torch.manual_seed(seed)
    net = baseline_net(data.train.x[0].numel())
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-3)
    best, best_state, waited, epochs = float("inf"), None, 0, 0
    for epoch in range(max_epochs):
        order = torch.randperm(len(data.train))
        for start in range(0, len(order), 128):
            loss = hidden_nll(net, model, data.train.x[order[start:start + 128]]).mean()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        epochs = epoch + 1
        with torch.no_grad():
            valid = hidden_nll(net, model, data.valid.x).mean().item()
        if valid < best:
            best, best_state, waited = valid, copy.deepcopy(net.state_dict()), 0
        else:
            waited += 1
            if waited >= 3:
                break
    net.load_state_dict(best_state)
    return net, epochs


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir")
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--max-epochs", type=int, default=101)
    parser.add_argument("--iwae-k", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    config, model, state, device = open_run(args.run_dir, "cpu", args.data_dir)
    data = load_data(config, device)
    start = time.perf_counter()
    net, epochs = train_baseline(model, data, args.max_epochs, args.seed)
    seconds = time.perf_counter() - start
    with torch.no_grad():
        baseline = hidden_nll(net, model, data.test.x)
    pyro.set_rng_seed(args.seed)
    elbo = evaluate_elbo(model, data.test.x, batch_size=500, num_samples=10)
    pyro.set_rng_seed(args.seed)
    bound = evaluate_log_likelihood(model, data.test.x, args.iwae_k)
    n = len(data.test.x)
    print(f"# {machine()}")
    print(f"run {args.run_dir} ({model.observed} observed quadrant(s), epoch {state['epoch']}); "
          f"{n} test images; nats per image, hidden pixels only (± one standard error)")
    print(f"  baseline network (trained {epochs} epochs, {seconds:.0f} s)   "
          f"{baseline.mean():9.3f} ± {baseline.std() / n ** 0.5:.3f}")
    print(f"  CVAE −ELBO (10 draws of z)                 {-elbo['elbo']:9.3f} ± "
          f"{elbo['elbo_stderr']:.3f}")
    print(f"  CVAE −L_{args.iwae_k} (importance-sampled bound)   "
          f"{-bound['log_likelihood']:9.3f} ± {bound['log_likelihood_stderr']:.3f}")


if __name__ == "__main__":
    main()
