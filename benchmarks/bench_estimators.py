"""Time the trace-derived importance-sampled bound against the same bound written by hand.

pyrovae derives log importance weights from the traces of any model/guide pair
(:mod:`pyrovae.infer.traces`); before, each kind hand-wrote them (encoder once per image,
then z ~ q, decoder, log-densities). This script runs both on the same 784-400-50 Bernoulli
VAE with the same chunking (:func:`pyrovae.infer.logmeanexp.log_mean_exp`), interleaved in one
process, and prints milliseconds per image at K samples and their ratio. It also checks that
the two agree on the same draws.

    python benchmarks/bench_estimators.py [--k 5000] [--images 20] [--repeats 5]
"""

import argparse
import statistics
import time

import pyro
import torch

from common import machine

import pyrovae as pv
from pyrovae.infer import traces
from pyrovae.infer.logmeanexp import log_mean_exp


def hand_sampler(vae):
    """The old per-kind fast path: the encoder once per image chunk, then K draws."""

    def sampler(x, y):
        q, prior = vae.q(x), vae.prior()

        def draw(k):
            z = q.sample((k,))
            return vae.p_x(z).log_prob(x) + prior.log_prob(z) - q.log_prob(z)

        return draw

    return sampler


def generic_sampler(vae):
    return lambda x, y: lambda k: traces.log_weights(vae, x, y, k)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--k", type=int, default=5000)
    parser.add_argument("--images", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    torch.manual_seed(0)
    vae = pv.VAE.build((1, 28, 28), z_dim=50, encoder={"name": "mlp", "hidden": [400]},
                       decoder={"name": "mlp", "hidden": [400]}).eval()
    x = torch.bernoulli(torch.full((args.images, 1, 28, 28), 0.2))
    # the same draws give the same weights
    pyro.set_rng_seed(1)
    a = hand_sampler(vae)(x[:2], None)(7)
    pyro.set_rng_seed(1)
    b = generic_sampler(vae)(x[:2], None)(7)
    assert torch.allclose(a, b, atol=1e-4), (a - b).abs().max()
    times = {"hand": [], "generic": []}
    with torch.no_grad():
        for _ in range(args.repeats):
            order = (("hand", hand_sampler), ("generic", generic_sampler))
            for name, make in order if _ % 2 == 0 else order[::-1]:  # alternate who goes first
                start = time.perf_counter()
                log_mean_exp(make(vae), x, args.k)
                times[name].append((time.perf_counter() - start) / args.images * 1e3)
    print(machine())
    hand, generic = (statistics.median(times[n]) for n in ("hand", "generic"))
    print(f"K = {args.k}, {args.images} images, median of {args.repeats}: hand-written "
          f"{hand:.2f} ms/image, trace-derived {generic:.2f} ms/image, ratio {generic / hand:.3f}")


if __name__ == "__main__":
    main()
