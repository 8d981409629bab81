"""Compare the estimators of log p(x) of a trained VAE, and the gradient noise of the Monte Carlo
versus closed-form KL.

Run it with::

    python examples/compare_estimators.py                 # scikit-learn's 8x8 digits, offline
    python examples/compare_estimators.py --epochs 1 --quick
    python examples/compare_estimators.py --dataset mnist --data-dir ../shared/data --epochs 5

A VAE is trained on the ELBO, ELBO(x) = E_q[log p(x|z)] − KL(q(z|x) || p(z)) ≤ log p(x). How far
is it from log p(x)? The importance-sampled bound

    L_K(x) = log (1/K) Σ_k p(x, z_k) / q(z_k|x),   z_k ~ q(z|x),

is the ELBO at K = 1 and rises to log p(x) as K grows; papers report L_5000 as the "test
log-likelihood". Sampling z from the prior instead (the naive estimate) needs far more samples.
The table shows each estimator's mean, its noise across repeated runs, its standard error over
test images, and its cost; then the gradient variance of Trace_ELBO (Monte Carlo KL) and
TraceMeanField_ELBO (closed-form KL) for 1, 10 and 100 particles. The same table is what
``pyrovae compare RUN_DIR`` prints for a saved run.
"""

import argparse

import pyro

import pyrovae as pv
from pyrovae.compare import DEFAULT_ESTIMATORS, Estimator, compare, format_comparison

#: a smaller table for a quick look (and the test run): K up to 1000, fewer draws
QUICK_ESTIMATORS = (
    Estimator("elbo-mc", 1),
    Estimator("elbo-mc", 10),
    Estimator("elbo-analytic", 1),
    *(Estimator("importance", k) for k in (1, 10, 100, 1000)),
    Estimator("naive", 1000),
)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dataset", default="digits")
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--z-dim", type=int, default=16)
    parser.add_argument("--max-examples", type=int, default=200,
                        help="test examples to evaluate on (default 200)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true",
                        help="K up to 1000, 2 repeats, 5 gradient draws, 20 examples")
    parser.add_argument("--plot", default=None, metavar="FILE.png")
    args = parser.parse_args()

    pyro.set_rng_seed(0)
    data = pv.load_dataset(args.dataset, data_dir=args.data_dir, binarize="dynamic")
    vae = pv.VAE.build(data.event_shape, z_dim=args.z_dim)
    rows = pv.Trainer(vae, objective="trace", progress=False).fit(data, epochs=args.epochs)
    print(f"trained {args.epochs} epochs on {data.name}: valid ELBO {rows[-1]['valid_elbo']:.2f}"
          " nats per example")

    x = data.test.x[: 20 if args.quick else args.max_examples]
    result = compare(
        vae,
        x,
        estimators=QUICK_ESTIMATORS if args.quick else DEFAULT_ESTIMATORS,
        repeats=2 if args.quick else args.repeats,
        particles=(1, 10) if args.quick else (1, 10, 100),
        draws=5 if args.quick else 20,
    )
    print(format_comparison(result))
    if args.plot:
        from pyrovae.plots import save_comparison_plot

        save_comparison_plot(result, args.plot)
        print(f"wrote {args.plot}")


if __name__ == "__main__":
    main()
