"""A conditional VAE: generate the digit you ask for.

Run it with::

    python examples/conditional_vae.py                      # scikit-learn's 8x8 digits, offline
    python examples/conditional_vae.py --dataset mnist --data-dir ../shared/data --epochs 20

A VAE models p(x); a conditional VAE (Sohn, Lee & Yan 2015) models p(x | y) for an observed
condition y, here the digit's label:

* the **model** p(z|y) p(x|z, y): draw a "style" z (from N(0, I), or with ``class_prior`` from
  a Gaussian learned for each class), then decode [z, onehot(y)] into an image;
* the **guide** q(z|x, y): the encoder sees the image and the label.

y is data, not a latent variable: it is passed to both programs, and nothing is summed over it
(contrast M2, ``examples/semi_supervised_mnist.py``, where unlabelled images leave y latent).
The ELBO is then a lower bound on log p(x|y)::

    ELBO(x|y) = E_q(z|x,y)[log p(x|z,y)] − KL(q(z|x,y) || p(z|y))  ≤  log p(x|y).

To draw a 3, fix y = 3 and sample z ~ p(z|y): the label decides the digit, z its style.
"""

import argparse

import pyro
import torch

import pyrovae as pv
from pyrovae.plots import as_images, save_grid


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dataset", default="digits")
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--epochs", type=int, default=60)
    parser.add_argument("--out", default="cvae-classes.png", help="where to save the samples")
    args = parser.parse_args()
    pyro.set_rng_seed(0)

    # Every training image needs its label: all of them are kept (labels=0).
    data = pv.load_dataset(args.dataset, data_dir=args.data_dir, binarize="dynamic")
    cvae = pv.models.CVAE.build(
        data.event_shape,
        data.num_classes,
        z_dim=8,
        class_prior=True,                     # p(z|y) = N(m_y, diag s_y²), learned per class
        likelihood="bernoulli",
        encoder={"name": "mlp", "hidden": []},  # with `features`: one layer on [x, onehot(y)]
        features=256,
        decoder={"name": "mlp", "hidden": [256]},
    )
    # The trainer hands every batch's labels to the model and guide: cvae.model(x, y).
    trainer = pv.Trainer(cvae, objective="meanfield", lr=1e-3, progress=False)
    trainer.fit(data, epochs=args.epochs, batch_size=128)

    # The estimators condition on each image's label: these are bounds on log p(x|y).
    test = cvae.evaluate(data.test.x, data.test.y)
    bound = pv.evaluate_log_likelihood(cvae, data.test.x, 500, y=data.test.y)
    print(f"test ELBO(x|y) {test['elbo']:.3f}, importance-sampled bound (K = 500) "
          f"{bound['log_likelihood']:.3f} nats per example")

    # One row per class, ten styles each.
    k = data.num_classes
    rows = [cvae.sample(10, c) for c in range(k)]
    images = as_images(torch.cat(rows), data.event_shape)
    save_grid(images, args.out, nrow=10)
    print(f"wrote one row of samples per class to {args.out}")


if __name__ == "__main__":
    main()
