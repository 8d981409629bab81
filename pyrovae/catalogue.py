"""What ``pyrovae list`` prints, readable without importing torch.

The built-in registries' entries with their one-line descriptions, as the registries
themselves describe them (:meth:`~pyrovae.registry.Registry.describe`). Importing the registries
imports torch and Pyro (about 2 s), which ``pyrovae list`` should not wait for, so the table is
written out below by ``python -m pyrovae.catalogue`` and a test fails when it differs from the
live registries.
"""

import pprint
from pathlib import Path

__all__ = ["CATALOGUE", "build"]

_MARK = "# -- written by python -m pyrovae.catalogue; do not edit below --\n"


def build():
    """The table from the live registries."""
    from .registries import REGISTRIES

    return {kind: registry.describe() for kind, registry in REGISTRIES.items()}


def _write():
    path = Path(__file__)
    head = path.read_text().split(_MARK)[0]
    table = pprint.pformat(build(), width=100, sort_dicts=False)
    path.write_text(f'{head}{_MARK}CATALOGUE = {table}\n\n\nif __name__ == "__main__":\n'
                    "    _write()\n")


# -- written by python -m pyrovae.catalogue; do not edit below --
CATALOGUE = {'models': {'cvae': 'A conditional VAE of x given its label y: p(z|y) p(x|z,y) with the guide '
                    'q(z|x,y).',
            'cvae-quadrants': 'p(z|c) p(x_h|z) with q(z|x): completes the hidden quadrants of an '
                              'image.',
            'm2': 'Semi-supervised M2 (Kingma et al. 2014): p(y) p(z) p(x|y,z), q(y|x) q(z|x,y), '
                  'labels enumerated.',
            'vae': 'A VAE assembled from components: p(z) p(x|z) with an amortized guide q(z|x).'},
 'datasets': {'binarized-mnist': "Larochelle's fixed binarized MNIST (no labels), 28x28 in {0, 1}, "
                                 '50 000/10 000/10 000.',
              'digits': "scikit-learn's bundled 1 797 8x8 handwritten digits, grey levels in [0, "
                        '1], 10 classes.',
              'fashion-mnist': 'Fashion-MNIST clothing images, 28x28 grey levels in [0, 1], 50 '
                               '000/10 000/10 000 split.',
              'mnist': 'MNIST handwritten digits, 28x28 grey levels in [0, 1], 50 000/10 000/10 '
                       '000 split.'},
 'priors': {'flow': 'Normalizing-flow prior: N(0, I) through ``layers`` learnable transforms; KL '
                    'by Monte Carlo.',
            'learned-normal': 'Trainable diagonal Gaussian N(m, diag(s²)), starting at N(0, I); '
                              'analytic KL.',
            'mixture': 'Learnable mixture of K diagonal Gaussians Σ_k π_k N(m_k, diag s_k²); KL by '
                       'Monte Carlo.',
            'normal': 'Standard normal N(0, I); the KL to a diagonal-normal guide is analytic.',
            'vamp': 'VampPrior p(z) = (1/K) Σ_k q(z | u_k) over K learned pseudo-inputs u_k; KL by '
                    'Monte Carlo.'},
 'likelihoods': {'bernoulli': 'Independent Bernoulli per pixel; exact for binary data, '
                              'cross-entropy for [0,1] data.',
                 'beta': 'Independent Beta(α, β) per pixel, both concentrations predicted by the '
                         'decoder.',
                 'categorical': 'A ``levels``-way categorical per pixel over the grey levels '
                                'k/(levels−1) (8-bit: 256).',
                 'continuous-bernoulli': 'Continuous Bernoulli per pixel: the normalized version '
                                         'of binary cross-entropy on [0, 1].',
                 'gaussian': 'Independent Normal per pixel; the scale fixed, learned globally, per '
                             'pixel, or predicted.',
                 'laplace': 'Independent Laplace per pixel; the scale fixed, learned globally, per '
                            'pixel, or predicted.'},
 'guides': {'diag-normal': 'Diagonal Normal q(z|x) = N(μ(x), diag σ(x)²), σ = softplus(raw) + '
                           'min_scale.',
            'full-rank': 'Multivariate normal q(z|x) = N(μ(x), L(x) L(x)ᵀ) with a lower-triangular '
                         'Cholesky factor L.',
            'iaf': 'Diagonal Normal from the encoder followed by ``layers`` inverse autoregressive '
                   'flows.'},
 'encoders': {'conv': 'Convolutional encoder: stride-2 convolutions, then a hidden linear layer, '
                      'then the output.',
              'gated': "Gated MLP encoder (VampPrior paper's GatedDense layers), then a linear "
                       'output.',
              'mlp': 'Fully connected encoder: flattens x, hidden layers with an activation, '
                     'linear output.'},
 'decoders': {'conv': 'Transposed-convolution decoder, the mirror image of :class:`ConvEncoder`.',
              'gated': "Gated MLP decoder (VampPrior paper's GatedDense layers), then a linear "
                       'output.',
              'mlp': 'Fully connected decoder: latent -> hidden layers -> per-pixel distribution '
                     'parameters.'},
 'objectives': {'iwae': 'Importance-weighted bound with K particles (Pyro RenyiELBO, α = 0).',
                'meanfield': 'Pyro TraceMeanField_ELBO: analytic KL(q || p) where one is '
                             'registered, else Monte Carlo.',
                'renyi': 'Rényi α-divergence bound with K particles (α = 0: IWAE; α → 1: ELBO).',
                'trace': 'Pyro Trace_ELBO: Monte Carlo ELBO, log p(x,z) − log q(z|x) at sampled '
                         'z.'},
 'optimizers': {'adam': 'Adam (Kingma & Ba 2015), the usual choice for VAEs; fused kernel where '
                        'available.',
                'adamw': 'AdamW: Adam with decoupled weight decay; fused kernel where available.',
                'rmsprop': 'RMSprop, optionally with momentum and L2 weight decay.',
                'sgd': 'Stochastic gradient descent, optionally with (Nesterov) momentum and L2 '
                       'weight decay.'},
 'schedulers': {'burda2016': 'Burda et al. (2016): lr·10^(−i/7) for 3^i epochs, i = 0..7 (3280 '
                             'epochs), then constant.',
                'cosine': 'Cosine annealing to eta_min over t_max epochs, then constant at '
                          'eta_min.',
                'exponential': 'Multiply the rate by gamma every epoch.',
                'multistep': 'Multiply the rate by gamma at each of the (increasing) milestone '
                             'epochs.',
                'none': 'Constant learning rate (no schedule).',
                'plateau': 'Multiply the rate by factor after patience validations without an ELBO '
                           'gain > threshold.',
                'step': 'Multiply the rate by gamma every step_size epochs.'}}


if __name__ == "__main__":
    _write()
