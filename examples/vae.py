"""Train a variational autoencoder with pyrovae's Python API, step by step.

Run it with::

    python examples/vae.py                      # scikit-learn's 8x8 digits, offline
    python examples/vae.py --dataset mnist --data-dir ../shared/data --epochs 5

A VAE in Pyro is two programs over the same latent variable z:

* the **model** p(z) p(x|z) says how data are generated: draw z from the prior, run the decoder
  network, observe x under the likelihood;
* the **guide** q(z|x) is the approximate posterior: run the encoder network on x and draw z
  from the distribution it parameterizes.

Stochastic variational inference (SVI) fits both by maximizing the evidence lower bound

    ELBO(x) = E_q[log p(x|z)] − KL(q(z|x) || p(z))  ≤  log p(x),

which Pyro estimates by running the guide, replaying its z in the model, and adding up
log-densities. We minimize the loss −ELBO, reported in nats per example.
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
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--z-dim", type=int, default=16)
    parser.add_argument("--out", default="vae-samples.png", help="where to save samples")
    args = parser.parse_args()

    # Seed every random number generator Pyro uses (torch, numpy, random): same seed, same run.
    pyro.set_rng_seed(0)

    # 1. Data. The whole data set lives in memory as tensors; "dynamic" binarization redraws
    #    binary images from the grey levels every epoch, so a Bernoulli likelihood is a real
    #    density for them (on grey levels it would only be a cross-entropy).
    data = pv.load_dataset(args.dataset, data_dir=args.data_dir, binarize="dynamic")
    print(f"{data.name}: {len(data.train)} train / {len(data.valid)} valid / "
          f"{len(data.test)} test images of shape {data.event_shape}")

    # 2. The model and guide. Every piece is chosen by name (or passed as an object you built):
    #    the prior p(z), the likelihood p(x|z), the guide's family q(z|x), and the networks.
    vae = pv.VAE.build(
        data.event_shape,
        z_dim=args.z_dim,
        prior="normal",                       # p(z) = N(0, I)
        likelihood="bernoulli",               # p(x|z) = Π_i Bernoulli(x_i; sigmoid(decoder(z))_i)
        guide="diag-normal",                  # q(z|x) = N(μ(x), diag σ(x)²)
        encoder={"name": "mlp", "hidden": [256]},
        decoder={"name": "mlp", "hidden": [256]},
    )
    # vae.model(x) and vae.guide(x) are ordinary Pyro programs. Inside a pyro.plate over the
    # batch (which tells Pyro the examples are independent), the model calls
    #     pyro.sample("z", prior)  and  pyro.sample("x", likelihood(decoder(z)), obs=x),
    # and the guide calls  pyro.sample("z", q(z|x)). Matching site names pair them up.

    # 3. The objective. Trace_ELBO estimates the ELBO by Monte Carlo; TraceMeanField_ELBO
    #    uses the closed-form KL between two Gaussians instead: its gradient has lower variance.
    elbo = pyro.infer.TraceMeanField_ELBO()

    # 4. The SVI loop. The ELBO is a differentiable torch scalar, so any torch optimizer works.
    #    The parameters are handed over once: they are the networks' nn.Parameters.
    optimizer = torch.optim.Adam(vae.parameters(), lr=1e-3)
    batches = pv.Batcher(data.train.x, batch_size=128, dynamic_binarize=True, seed=0)
    for epoch in range(1, args.epochs + 1):
        total = 0.0
        for x, _ in batches:
            loss = elbo.differentiable_loss(vae.model, vae.guide, x)  # −ELBO summed over x
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += loss.item()
        if epoch % max(1, args.epochs // 10) == 0 or epoch == args.epochs:
            valid = vae.evaluate(data.valid.x)
            print(f"epoch {epoch:3d}  train loss {total / len(data.train):8.3f}  "
                  f"valid ELBO {valid['elbo']:8.3f} nats/example")

    # pyrovae's Trainer runs this same loop (plus progress bar, warm-up and checks):
    #     pv.Trainer(vae, objective="meanfield", lr=1e-3).fit(data, epochs=args.epochs)

    # 5. Evaluate: the ELBO on held-out data splits into reconstruction and KL terms.
    test = vae.evaluate(data.test.x)
    print(f"test ELBO {test['elbo']:.3f} = reconstruction {test['reconstruction']:.3f} "
          f"− KL {test['kl']:.3f} ({test['kl_method']} KL), nats per example")

    # 6. Generate: decode draws from the prior.
    images = as_images(vae.sample(64), data.event_shape)
    save_grid(images, args.out, nrow=8)
    print(f"wrote samples to {args.out}")


if __name__ == "__main__":
    main()
