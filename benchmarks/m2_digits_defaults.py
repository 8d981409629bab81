"""Which M2 defaults make the unlabelled digits help: M2's test accuracy against the same
classifier network trained on the labelled images alone, over several label draws.

    python benchmarks/m2_digits_defaults.py [--labels 50] [--draws 5] [--epochs 30]
        [--variant NAME ...]

Each variant is a list of ``--set``-style overrides on top of ``--model m2``; each draw d uses
``data.split_seed = d`` (a different choice of the labelled images) and ``train.seed = d``. The
baseline is the variant's own classifier network trained by cross-entropy on the same labelled
images (Adam, lr 1e-3, 500 full-batch steps), and a logistic regression (scikit-learn) on them.
Prints mean ± standard deviation over draws and the paired difference M2 − alone.
"""

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import machine  # noqa: E402

import pyrovae as pv  # noqa: E402
from pyrovae.models.base import build_model  # noqa: E402
from pyrovae.run_data import load_data  # noqa: E402

VARIANTS = {
    "defaults": [],
    "grey-z4": ["data.binarize=\"none\"", "model.z_dim=4"],
    "gaussian-z4": ["model.likelihood=\"gaussian\"", "model.z_dim=4"],
    "cb-z4": ["model.likelihood=\"continuous-bernoulli\"", "model.z_dim=4"],
    "grey-z4-h256": ["data.binarize=\"none\"", "model.z_dim=4", "model.encoder.hidden=[256]",
                     "model.decoder.hidden=[256]", "model.classifier.hidden=[256]"],
    "grey-z4-a10": ["data.binarize=\"none\"", "model.z_dim=4", "model.alpha=10.0"],
    "gaussian-z4-a10": ["model.likelihood=\"gaussian\"", "model.z_dim=4", "model.alpha=10.0"],
    "gaussian-z4-a50": ["model.likelihood=\"gaussian\"", "model.z_dim=4", "model.alpha=50.0"],
    "cb-z4-a10": ["model.likelihood=\"continuous-bernoulli\"", "model.z_dim=4",
                  "model.alpha=10.0"],
    "grey-z16-a10": ["data.binarize=\"none\"", "model.alpha=10.0"],
    "grey-z16": ["data.binarize=\"none\""],
    "grey-z8": ["data.binarize=\"none\"", "model.z_dim=8"],
    "grey-z16-e60": ["data.binarize=\"none\"", "train.epochs=60"],
}


def accuracy(logits, y):
    return (logits.argmax(-1) == y).double().mean().item()


def alone(config, data):
    """The variant's classifier network trained on the labelled images only."""
    torch.manual_seed(config.train.seed)
    classifier = build_model(config, data.event_shape, data.num_classes).classifier
    x, y = data.train.x[data.labelled], data.train.y[data.labelled]
    optimizer = torch.optim.Adam(classifier.parameters(), lr=1e-3)
    for _ in range(500):
        loss = F.cross_entropy(classifier(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    with torch.no_grad():
        return accuracy(classifier(data.test.x), data.test.y)


def logistic(data):
    from sklearn.linear_model import LogisticRegression

    x = data.train.x[data.labelled].flatten(1).numpy()
    model = LogisticRegression(max_iter=5000).fit(x, data.train.y[data.labelled].numpy())
    return float((model.predict(data.test.x.flatten(1).numpy()) == data.test.y.numpy()).mean())


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--labels", type=int, default=50)
    parser.add_argument("--draws", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--variant", action="append", choices=sorted(VARIANTS))
    args = parser.parse_args()
    print(machine())
    import pyro

    pyro.enable_validation(False)
    for name in args.variant or list(VARIANTS):
        m2s, alones, logits_, seconds = [], [], [], []
        for draw in range(args.draws):
            overrides = ["model.kind=\"m2\"", f"data.labels={args.labels}",
                         f"data.split_seed={draw}", f"train.seed={draw}",
                         f"train.epochs={args.epochs}", *VARIANTS[name]]
            config = pv.load_config(None, overrides)
            data = load_data(config)
            pyro.set_rng_seed(draw)
            module = build_model(config, data.event_shape, data.num_classes)
            trainer = pv.Trainer(module, config.train.objective, config.train.optimizer,
                                 config.train.lr, progress=False)
            start = time.perf_counter()
            trainer.fit(data, args.epochs, config.train.batch_size, draw)
            seconds.append(time.perf_counter() - start)
            module.eval()
            with torch.no_grad():
                m2s.append(accuracy(module.classifier(data.test.x), data.test.y))
            alones.append(alone(config, data))
            logits_.append(logistic(data))
        diff = [a - b for a, b in zip(m2s, alones)]
        fmt = lambda v: f"{100 * statistics.mean(v):.1f} ± {100 * statistics.stdev(v):.1f}"  # noqa: E731
        print(f"{name:<14} M2 {fmt(m2s)} %  alone {fmt(alones)} %  logistic {fmt(logits_)} %  "
              f"M2 − alone {fmt(diff)} points  ({statistics.mean(seconds):.1f} s per run)  "
              f"per draw: {[round(100 * a, 1) for a in m2s]}", flush=True)


if __name__ == "__main__":
    main()
