"""The M2 model: its enumerated ELBO against a hand-written formula, and a semi-supervised gain.

The model and guide under test (K = 3 classes, x in {0,1}^4, z in R^2)::

    model(x, y=None)                                guide(x, y=None)
    ----------------                                ----------------
    y ~ Cat(π)            π = (0.2, 0.3, 0.5)       [y unobserved]  y ~ Cat(softmax(c(x)))
    z ~ N(0, I)                                                     (enumerated: y = 0, 1, 2)
    x ~ Bernoulli(logits = d([z, onehot(y)]))       z ~ N(μ, σ),  (μ, σ) = loc_scale(
                                                        W relu(e(x) + E onehot(y)) + b)

    c = classifier, e = encoder, d = decoder (tiny MLPs), E = the label embedding, W, b = the
    head.

With y unobserved TraceEnum_ELBO must give exactly (z pinned, one z_y per class)::

    ELBO_U = Σ_y q(y|x) [log p(x|y,z_y) + log p(y) + log p(z_y) − log q(z_y|x,y)]
             − Σ_y q(y|x) log q(y|x)

and with y observed the enumeration disappears::

    ELBO_L = log p(x|y,z) + log p(y) + log p(z) − log q(z|x,y)

Pyro's sign convention: loss = −ELBO. The densities below are written out by hand (Bernoulli and
Normal log-densities, the softmax), only the networks are shared with the code under test.
"""

import json
import math

import numpy as np
import pyro
import pytest
import torch
import torch.nn.functional as F
from pyro.infer import Trace_ELBO
from pyro.poutine.messenger import Messenger

import pyrovae as pv
from pyrovae.data.labels import choose_labels
from pyrovae.models.m2 import M2
from pyrovae.training import Trainer

K = 3
PRIOR = [0.2, 0.3, 0.5]


def tiny_m2(alpha=0.7):
    net = {"name": "mlp", "hidden": [5], "activation": "tanh"}
    return M2.build((4,), K, z_dim=2, encoder=net, decoder=net, classifier=net,
                    label_prior=PRIOR, alpha=alpha, features=3)


def log_normal(z, loc, scale):
    return (-0.5 * ((z - loc) / scale) ** 2 - scale.log() - 0.5 * math.log(2 * math.pi)).sum(-1)


def log_bernoulli(x, logits):
    return (x * logits - F.softplus(logits)).sum(-1)


def q_params(m2, x, onehot):
    """(μ, σ) of q(z|x,y) written out: W relu(e(x) + E onehot(y)) + b, then loc_scale."""
    h = torch.relu(m2.encoder(x) + onehot @ m2.label_embedding.weight.T)
    return m2.posterior.loc_scale(h @ m2.head.weight.T + m2.head.bias)


def hand_terms(m2, x, y, z):
    """log p(x|y,z) + log p(y) + log p(z) − log q(z|x,y) for labels ``y`` (B,) and z (B, 2)."""
    onehot = torch.eye(K, dtype=x.dtype)[y]
    loc, scale = q_params(m2, x, onehot)
    logits = m2.decoder(torch.cat([z, onehot], -1))[:, 0]
    log_py = torch.tensor(PRIOR, dtype=x.dtype).log()[y]
    log_pz = log_normal(z, torch.zeros_like(z), torch.ones_like(z))
    return log_bernoulli(x, logits) + log_py + log_pz - log_normal(z, loc, scale)


def hand_unlabelled_elbo(m2, x, z):
    """ELBO_U summed over the batch; ``z`` has shape (K, B, 2): one z per class and example."""
    logits = m2.classifier(x)
    q = torch.exp(logits - torch.logsumexp(logits, -1, keepdim=True))  # (B, K)
    total = 0.0
    for k in range(K):
        y = torch.full((x.shape[0],), k, dtype=torch.long)
        total = total + (q[:, k] * hand_terms(m2, x, y, z[k])).sum()
    return total - (q * q.log()).sum()


class Pin(Messenger):
    """Fix the value of a latent site without marking it observed (``poutine.condition`` would
    make it an observation, which the model could not replay)."""

    def __init__(self, values):
        super().__init__()
        self.values = values

    def _pyro_sample(self, msg):
        if msg["name"] in self.values:
            value, fn = self.values[msg["name"]], msg["fn"]
            # a done site is not broadcast by the plates outside this handler: broadcast here
            batch = value.shape[: value.dim() - len(fn.event_shape)]
            msg["fn"] = fn.expand(torch.broadcast_shapes(fn.batch_shape, batch))
            msg["value"] = value
            msg["done"] = True


def pinned(guide, z):
    """The guide with z fixed to ``z`` (no path from z to the parameters, in either the Pyro loss
    or the hand-written one); the model replays this z."""

    def pinned_guide(*args):
        with Pin({"z": z}):
            return guide(*args)

    return pinned_guide


def data(batch=2):
    x = torch.tensor([[1.0, 0.0, 1.0, 1.0], [0.0, 0.0, 1.0, 0.0]])[:batch]
    return x


def grads(loss, params):
    return torch.autograd.grad(loss, params, retain_graph=True)


def test_enumerated_loss_and_gradients_equal_the_hand_written_unlabelled_elbo(float64):
    m2 = tiny_m2()
    x = data()
    z = torch.randn(K, x.shape[0], 2)  # enumeration puts the K classes at dim -2
    elbo = m2.enumerated(Trace_ELBO(max_plate_nesting=1))
    loss = elbo.differentiable_loss(m2.model, pinned(m2.guide, z), x, None)
    expected = -hand_unlabelled_elbo(m2, x, z)
    assert loss.item() == pytest.approx(expected.item(), rel=1e-12, abs=1e-12)
    params = [p for p in m2.parameters()]
    for got, want in zip(grads(loss, params), grads(expected, params)):
        torch.testing.assert_close(got, want, rtol=1e-10, atol=1e-12)
    # the classifier is trained by the unlabelled ELBO: its gradient is not zero
    assert grads(loss, list(m2.classifier.parameters()))[0].abs().sum() > 0


def test_labelled_loss_and_gradients_equal_the_hand_written_labelled_elbo(float64):
    m2 = tiny_m2()
    x, y = data(), torch.tensor([2, 0])
    z = torch.randn(x.shape[0], 2)
    elbo = m2.enumerated(Trace_ELBO(max_plate_nesting=1))
    loss = elbo.differentiable_loss(m2.model, pinned(m2.guide, z), x, y)
    expected = -hand_terms(m2, x, y, z).sum()
    assert loss.item() == pytest.approx(expected.item(), rel=1e-12, abs=1e-12)
    params = [p for name, p in m2.named_parameters() if not name.startswith("classifier.")]
    for got, want in zip(grads(loss, params), grads(expected, params)):
        torch.testing.assert_close(got, want, rtol=1e-10, atol=1e-12)


def test_loss_adds_alpha_times_the_classification_loss_on_labelled_batches_only(float64):
    m2 = tiny_m2(alpha=0.7)
    x, y = data(), torch.tensor([2, 0])
    objective = Trace_ELBO(max_plate_nesting=1)
    enum = m2.enumerated(objective)
    logits = m2.classifier(x)
    cross_entropy = -(logits - torch.logsumexp(logits, -1, keepdim=True))[[0, 1], y].sum()
    for labels, extra in ((y, 0.7 * cross_entropy), (None, 0.0)):
        pyro.set_rng_seed(1)
        total = m2.loss(objective, x, labels)
        pyro.set_rng_seed(1)
        elbo_only = enum.differentiable_loss(m2.model, m2.guide, x, labels)
        difference = (total - elbo_only).detach().item()
        assert difference == pytest.approx(float(torch.as_tensor(extra).detach()), rel=1e-12,
                                           abs=1e-12)


def test_vectorized_particles_average_the_enumerated_elbo(float64):
    """With P pinned particles (one z per particle and class), the loss is the mean over
    particles of the single-particle formula."""
    m2 = tiny_m2()
    x = data()
    z = torch.randn(K, 2, x.shape[0], 2)  # (classes, particles, batch, z_dim)
    elbo = m2.enumerated(Trace_ELBO(num_particles=2, vectorize_particles=True,
                                    max_plate_nesting=1))
    assert elbo.max_plate_nesting == 2  # the data plate and the particle plate
    loss = elbo.differentiable_loss(m2.model, pinned(m2.guide, z), x, None)
    expected = -(hand_unlabelled_elbo(m2, x, z[:, 0]) + hand_unlabelled_elbo(m2, x, z[:, 1])) / 2
    assert loss.item() == pytest.approx(expected.item(), rel=1e-12, abs=1e-12)


def test_evaluate_sums_labels_in_closed_form(float64):
    """evaluate's ELBO = Σ_y q_y [R_y − KL_y] − KL(q(y|x) || p(y)), with the Gaussian KL written
    out and R_y = E[log p(x|y,z)] estimated from independent draws. Both Monte Carlo averages use
    S = 4000 draws; the tolerance is 5 standard errors of their difference."""
    m2 = tiny_m2()
    x, labels = data(), torch.tensor([2, 1])
    s = 4000
    result = m2.evaluate(x, labels, num_samples=s)
    logits = m2.classifier(x)
    log_q = logits - torch.logsumexp(logits, -1, keepdim=True)
    q = log_q.exp()
    elbo, variance = torch.zeros(2), torch.zeros(2)
    for k in range(K):
        onehot = torch.eye(K)[torch.full((2,), k)]
        loc, scale = q_params(m2, x, onehot)
        kl = 0.5 * (scale**2 + loc**2 - 1 - 2 * scale.log()).sum(-1)
        z = loc + scale * torch.randn(s, 2, 2)
        rec = log_bernoulli(x, m2.decoder(torch.cat([z, onehot.expand(s, 2, K)], -1))[..., 0, :])
        elbo = elbo + q[:, k] * (rec.mean(0) - kl)
        variance = variance + q[:, k] ** 2 * rec.var(0) / s
    elbo = elbo - (q * (log_q - torch.tensor(PRIOR).log())).sum(-1)
    tolerance = 5 * math.sqrt(2 * variance.sum().item()) / 2  # mean of 2 examples, 2 estimates
    assert result["elbo"] == pytest.approx(elbo.mean().item(), abs=tolerance)
    assert result["elbo"] == pytest.approx(result["reconstruction"] - result["kl"], abs=1e-12)
    assert result["kl_method"] == "analytic"
    assert result["accuracy"] == (logits.argmax(-1) == labels).double().mean().item()


@pytest.fixture
def one_thread():
    """Small networks run fastest on one thread (and do not fight other processes for cores)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_unlabelled_data_beat_a_classifier_trained_on_the_labels_alone(one_thread):
    """digits, 50 labels (5 per class): M2's q(y|x) against the same network trained by
    cross-entropy on the 50 labelled images alone (same images, optimizer and seeds).

    Grey levels (no binarization) and a small z (4) make the labels carry the class: with 8x8
    images and a large z, the generative model explains the digits without y and the unlabelled
    data help little. Numbers at the time of writing: M2 0.925, classifier alone 0.866.
    """
    pyro.enable_validation(False)  # 2000 enumerated steps; the exact tests above validate
    data = pv.load_dataset("digits", binarize="none", labels=50)
    net = {"name": "mlp", "hidden": [256], "activation": "relu"}
    pyro.set_rng_seed(0)
    m2 = M2.build(data.event_shape, 10, z_dim=4, encoder=net, decoder=net, classifier=net,
                  alpha=1.0)
    Trainer(m2, lr=1e-3, progress=False).fit(data, epochs=100, batch_size=128, seed=0)
    m2_right = m2.classify(data.test.x) == data.test.y

    pyro.set_rng_seed(0)
    classifier = M2.build(data.event_shape, 10, z_dim=4, encoder=net, decoder=net,
                          classifier=net).classifier
    labelled, _ = choose_labels(data.train.y, 50, 10, seed=0)  # the ones M2 kept
    x, y = data.train.x[labelled], data.train.y[labelled]
    optimizer = torch.optim.Adam(classifier.parameters(), lr=1e-3)
    for _ in range(1000):  # the test accuracy has converged (0.86-0.87) after 100 steps
        loss = F.cross_entropy(classifier(x), y, reduction="sum")
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    with torch.no_grad():
        alone_right = classifier(data.test.x).argmax(-1) == data.test.y

    n = len(data.test)
    m2_accuracy, alone_accuracy = m2_right.double().mean().item(), alone_right.double().mean().item()
    print(f"digits, 50 labels: M2 {m2_accuracy:.4f}, classifier alone {alone_accuracy:.4f}")
    # paired comparison on the same n test images: the difference of the accuracies is the mean
    # of d_i = m2_right_i − alone_right_i, whose standard error is std(d) / sqrt(n); require two
    d = m2_right.double() - alone_right.double()
    stderr = d.std().item() / math.sqrt(n)
    assert m2_accuracy - alone_accuracy > 2 * stderr, (m2_accuracy, alone_accuracy, stderr)


# -- the command line and the config ---------------------------------------------------------

TINY_M2 = [
    "--model", "m2", "--labels", "50", "--epochs", "1", "--z-dim", "2", "--quiet",
    "--set", "model.encoder.hidden=[16]", "--set", "model.decoder.hidden=[16]",
    "--set", "model.classifier.hidden=[16]",
]  # fmt: skip


def test_cli_trains_m2_from_50_labels_and_evaluate_prints_its_accuracy(tmp_path, capsys):
    from PIL import Image

    from pyrovae.cli import main

    run = tmp_path / "run"
    assert main(["train", "--out", str(run), *TINY_M2]) == 0
    header = (run / "metrics.csv").read_text().splitlines()[0].split(",")
    assert "valid_accuracy" in header and "valid_elbo" in header
    k = 10
    for name, columns in (("conditional_samples.png", k), ("analogies.png", k + 1)):
        width, height = Image.open(run / name).size
        # an 8-row grid of 8x8 images with 1-pixel padding, upscaled by an integer factor
        assert width * (8 * 9 + 1) == height * (columns * 9 + 1), name
    capsys.readouterr()
    assert main(["evaluate", str(run)]) == 0
    text = capsys.readouterr().out
    assert "accuracy" in text and "elbo" in text
    assert main(["evaluate", str(run), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert 0 <= result["accuracy"] <= 1
    assert result["elbo"] == pytest.approx(result["reconstruction"] - result["kl"], rel=1e-6)  # float32


@pytest.mark.parametrize(
    "extra, words",
    [
        (["--objective", "meanfield"], "no enumerated form"),
        (["--labels", "55"], "multiple of 10"),
        (["--labels", "5000"], "more than the 1258 examples"),
        (["--set", "model.label_prior=[0.5,0.6]"], "summing to 1"),
        (["--set", "model.label_prior=[0.5,0.5]"], "2 probabilities but the data have 10"),
        (["--set", "model.alpha=-1"], "zero or positive"),
        (["--set", "model.classifier.hiden=[3]"], "did you mean 'hidden'"),
    ],
)
def test_cli_refuses_what_m2_cannot_honour(tmp_path, capsys, extra, words):
    from pyrovae.cli import main

    assert main(["train", "--out", str(tmp_path / "run"), *TINY_M2, *extra]) == 2
    assert words in capsys.readouterr().err


def test_m2_refuses_data_without_labels(tmp_path, capsys):
    from pyrovae.cli import main

    path = tmp_path / "x.npy"
    np.save(path, np.random.default_rng(0).integers(0, 2, (50, 4)).astype(np.float32))
    assert main(["train", "--dataset", str(path), "--out", str(tmp_path / "run"),
                 *TINY_M2]) == 2
    assert "needs a labelled data set" in capsys.readouterr().err


def test_enumerated_loss_on_real_valued_codes_with_a_predicted_gaussian(float64):
    """M2 on an M1's codes (``data.features_from``): real-valued inputs and a Gaussian
    p(z1|y,z2) whose scale the decoder predicts, σ = softplus(raw + offset) + 1e-3, offset
    chosen so that σ starts at 1. The enumerated loss is ELBO_U with that density written out."""
    net = {"name": "mlp", "hidden": [5], "activation": "tanh"}
    m2 = M2.build((4,), K, z_dim=2, encoder=net, decoder=net, classifier=net, label_prior=PRIOR,
                  features=3, likelihood={"name": "gaussian", "learn_scale": "decoder"})
    x = torch.tensor([[0.3, -1.2, 2.0, 0.1], [-0.4, 0.9, -0.2, 1.5]])
    z = torch.randn(K, x.shape[0], 2)
    offset = math.log(math.expm1(1.0 - 1e-3))

    def log_lik(y, zk):
        onehot = torch.eye(K, dtype=x.dtype)[y]
        out = m2.decoder(torch.cat([zk, onehot], -1))  # (B, 2, 4): means, raw scales
        scale = F.softplus(out[:, 1] + offset) + 1e-3
        return log_normal(x, out[:, 0], scale)

    logits = m2.classifier(x)
    q = torch.softmax(logits, -1)
    expected = 0.0
    for k in range(K):
        y = torch.full((x.shape[0],), k, dtype=torch.long)
        loc, scale = q_params(m2, x, torch.eye(K, dtype=x.dtype)[y])
        terms = (log_lik(y, z[k]) + math.log(PRIOR[k])
                 + log_normal(z[k], torch.zeros_like(loc), torch.ones_like(loc))
                 - log_normal(z[k], loc, scale))
        expected = expected + (q[:, k] * terms).sum()
    expected = -(expected - (q * q.log()).sum())
    loss = m2.enumerated(Trace_ELBO(max_plate_nesting=1)).differentiable_loss(
        m2.model, pinned(m2.guide, z), x, None)
    assert loss.item() == pytest.approx(expected.item(), rel=1e-12, abs=1e-12)
    params = list(m2.parameters())
    for got, want in zip(grads(loss, params), grads(expected, params)):
        torch.testing.assert_close(got, want, rtol=1e-10, atol=1e-12)
