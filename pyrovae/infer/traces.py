"""Every estimator of pyrovae, derived from the traces of a model/guide pair.

Pyro's own estimators never ask a model for its ELBO: they run the guide and the model under
``poutine.trace`` (the model replayed on the guide's draws) and read the log-densities off the
two traces. This module does the same for pyrovae's estimators, for any pair of Pyro programs
``model(x, y=None)`` / ``guide(x, y=None)`` whose examples lie in a ``pyro.plate("data")``:

* K draws are vectorized in one pass by an outer plate (as
  ``pyro.infer.importance.vectorized_importance_weights`` does), and no value is read back to
  the host;
* guide sites marked ``infer={"enumerate": "parallel"}`` (discrete latents such as M2's label)
  are enumerated by ``poutine.enum`` and summed *exactly*, never sampled;
* every site's log-density is reduced to one number per (draw, example): summed over the
  site's other plates, kept over the data plate.

With the model's sites S_p (observed O and latent), the guide's non-enumerated latent sites
S_q and the enumerated ones E, the draws z ~ q and, for each joint value e of the enumerated
sites, the per-example quantities are::

    log w        = log Σ_e exp(Σ_{s∈S_p} log p_s − Σ_{s∈S_q} log q_s)     (guide proposal)
    log w_prior  = log Σ_e exp(Σ_{s∈O} log p_s + Σ_{s∈E} log p_s),  z ~ p (the naive estimate)
    ELBO         = Σ_e q(e) [Σ_{s∈S_p} log p_s − Σ_{s∈S_q ∪ E} log q_s]
                 = reconstruction (Σ_{s∈O}) − Σ_{latent s} KL_s

Each exp(log w) is an unbiased estimate of p(x) (each enumerated term is unbiased for p(x, e)),
so log-mean-exp over K draws is the importance-weighted bound L_K ≤ log p(x). A latent site's
KL_s = Σ_e q(e) E_q[log q_s − log p_s] is taken in closed form (``kl_divergence`` of the two
sites' distributions, scaled and masked like the site) where torch registers one and the site
qualifies (:func:`~pyrovae.infer.sites.mean_field_sites`), else from the same draws; each site
says which. Enumerated sites' KL terms are exact sums.

The model's parameters are its own (:class:`~pyrovae.models.base.OwnParameters`): nothing is
written to Pyro's param store.
"""

import contextlib
import math
from dataclasses import dataclass

import pyro
import torch
from pyro import poutine
from pyro.distributions.util import scale_and_mask
from torch.distributions import kl_divergence

from ..errors import PyroVAEError
from ..params import OwnParameters
from .sites import enumerated, is_latent, is_sample, mean_field_sites

__all__ = ["NoClosedForm", "ProgramError", "SAMPLE_PLATE", "TracePair", "check_programs",
           "classify", "elbo_terms", "enumeration_size", "log_weights", "observed_mean",
           "parameter_groups", "trace_pair"]

#: the name of the plate that vectorizes K draws (outside every plate of the programs)
SAMPLE_PLATE = "_pyrovae_draws"


class NoClosedForm(ValueError):
    """An analytic KL was asked for a latent site that has no valid closed form."""


class ProgramError(PyroVAEError):
    """A model/guide pair that the estimators cannot read (one line saying why)."""


def data_plate(module):
    """The name of the plate that holds the examples (``module.data_plate``, default
    ``"data"``)."""
    return getattr(module, "data_plate", "data")


def plate_nesting(module):
    """Plates nested inside the programs (``module.max_plate_nesting``, default 1)."""
    return int(getattr(module, "max_plate_nesting", 1))


def _call(program, x, y):
    return program(x) if y is None else program(x, y)


@dataclass
class TracePair:
    """The traces of one vectorized run (log-densities computed), read per (draw, example):
    :meth:`log_p` and :meth:`log_q` give a site's log-density as a tensor that broadcasts to
    ``(*enumeration, K, B)``, the enumeration axes on the left."""

    model: poutine.Trace
    guide: poutine.Trace
    nesting: int
    data: str

    def per_example(self, site, value):
        """``value`` (a site's log-density or KL, shaped like its batch) reduced to
        ``(*enumeration, K, B)``: summed over every plate but the data and draw plates."""
        if not torch.is_tensor(value):
            value = torch.as_tensor(value)
        frames = [f for f in site["cond_indep_stack"] if f.vectorized]
        if not any(f.name == self.data for f in frames):
            raise ProgramError(
                f"site '{site['name']}' lies outside the '{self.data}' plate; every sample site "
                f"of the model and guide must be inside `with pyro.plate(\"{self.data}\", "
                "len(x))` so that its log-density is per example"
            )
        for f in frames:
            if f.name not in (self.data, SAMPLE_PLATE) and value.dim() >= -f.dim:
                value = value.sum(f.dim, keepdim=True)
        while value.dim() < self.nesting + 1:
            value = value.unsqueeze(0)
        return value.reshape(*value.shape[: value.dim() - self.nesting], -1)

    def log_p(self, name):
        site = self.model.nodes[name]
        return self.per_example(site, site["log_prob"])

    def log_q(self, name):
        site = self.guide.nodes[name]
        return self.per_example(site, site["log_prob"])

    @property
    def observed(self):
        return [n for n, s in self.model.nodes.items()
                if is_sample(s) and s["is_observed"]]

    @property
    def latent(self):
        """The guide's latent sites in its order: ``(name, enumerated)``."""
        return [(n, enumerated(s)) for n, s in self.guide.nodes.items() if is_latent(s)]


def trace_pair(module, x, y=None, num_samples=1, proposal="guide"):
    """Run the guide (``proposal="guide"``) and the model replayed on its draws, or the model
    alone with its discrete latents enumerated (``proposal="prior"``), vectorized over
    ``num_samples`` draws; log-densities computed. Returns a :class:`TracePair` (``guide`` is
    ``None`` for the prior)."""
    nesting, data = plate_nesting(module), data_plate(module)
    draws = pyro.plate(SAMPLE_PLATE, num_samples, dim=-(nesting + 1))
    enum = poutine.enum(first_available_dim=-(nesting + 2))
    with OwnParameters(), pyro.validation_enabled(False), enum, draws:
        if proposal == "guide":
            guide = poutine.trace(module.guide).get_trace(*_args(x, y))
            model = poutine.trace(poutine.replay(module.model, trace=guide)).get_trace(
                *_args(x, y))
        elif proposal == "prior":
            guide = None
            summed = pyro.infer.config_enumerate(module.model, "parallel")
            model = poutine.trace(summed).get_trace(*_args(x, y))
        else:
            raise ValueError(f"proposal must be 'guide' or 'prior', got {proposal!r}")
    with pyro.validation_enabled(False):  # its NaN/inf warnings read every sum back
        model.compute_log_prob()
        if guide is not None:
            guide.compute_log_prob()
    return TracePair(model, guide, nesting, data)


def _args(x, y):
    return (x,) if y is None else (x, y)


@contextlib.contextmanager
def _probe(x):
    """A look at the programs that leaves the random streams as they were, so that a probe
    before an estimate does not change the estimate's draws (same seed, same number)."""
    devices = [x.device] if x.device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices), torch.no_grad():
        yield


def _sum_enumeration(log_terms):
    """log Σ_e exp(Σ log_terms) over the enumeration axes (all but the last two): ``(K, B)``."""
    total = sum(log_terms[1:], log_terms[0])
    return total.reshape(-1, *total.shape[-2:]).logsumexp(0)


def log_weights(module, x, y=None, num_samples=1, proposal="guide"):
    """Log importance weights ``(K, B)`` of ``num_samples`` draws per example (see the module
    docstring); enumerated sites are summed inside each weight."""
    pair = trace_pair(module, x, y, num_samples, proposal)
    if proposal == "prior":
        terms = [pair.log_p(n) for n, s in pair.model.nodes.items()
                 if is_sample(s) and (s["is_observed"] or enumerated(s))]
    else:
        terms = [pair.log_p(n) for n, s in pair.model.nodes.items() if is_sample(s)]
        terms += [-pair.log_q(n) for n, summed in pair.latent if not summed]
    if not terms:
        raise ProgramError("the model has no sample site: nothing to weigh")
    log_w = _sum_enumeration(terms)
    return log_w.expand(num_samples, x.shape[0])


def enumeration_size(module, x, y=None):
    """How many values the enumerated sites take jointly (M2: K classes): each draw decodes
    that many rows, which sizes the estimators' chunks. Probed on one example."""
    with _probe(x):
        pair = trace_pair(module, x[:1], None if y is None else y[:1])
    shapes = [pair.log_p(n).shape for n, s in pair.model.nodes.items() if is_sample(s)]
    return math.prod(torch.broadcast_shapes(*shapes)[:-2])


def _kl(pair, name, kl, qualified):
    """KL_s per (enumeration, draw, example) and its method."""
    q_site, p_site = pair.guide.nodes[name], pair.model.nodes[name]
    if enumerated(q_site):
        return pair.log_q(name) - pair.log_p(name), "exact"
    if kl != "monte-carlo":
        value = None
        if name in qualified:
            try:
                value = kl_divergence(q_site["fn"], p_site["fn"])
            except NotImplementedError:
                value = None
        if value is not None:
            value = scale_and_mask(value, scale=q_site["scale"], mask=q_site["mask"])
            return pair.per_example(q_site, value), "analytic"
        if kl == "analytic":
            why = ("no closed form is registered for "
                   f"{type(q_site['fn']).__name__} || {type(p_site['fn']).__name__}"
                   if name in qualified else
                   "its model parents are drawn after it in the guide")
            raise NoClosedForm(f"no analytic KL for latent site '{name}': {why}")
    return pair.log_q(name) - pair.log_p(name), "monte-carlo"


def elbo_terms(module, x, y=None, num_samples=1, kl="auto"):
    """Per-example ELBO terms of ``x`` (batch ``(B,)``), derived from the traces.

    :param int num_samples: draws per example for the Monte Carlo parts.
    :param str kl: ``"auto"`` (closed form where valid), ``"analytic"`` (required: raise
        :class:`NoClosedForm` otherwise) or ``"monte-carlo"``.
    :returns: ``(terms, methods)``: ``terms`` has ``"elbo"``, ``"reconstruction"``, ``"kl"``
        and ``"kl_<site>"`` per latent site, tensors ``(B,)``; ``methods`` is
        ``{site: "analytic" | "monte-carlo" | "exact"}`` in the guide's order.
    """
    if kl not in ("auto", "analytic", "monte-carlo"):
        raise ValueError(f"kl must be 'auto', 'analytic' or 'monte-carlo', got {kl!r}")
    pair = trace_pair(module, x, y, num_samples)
    qualified = mean_field_sites(pair.model, pair.guide)
    latent = pair.latent
    summed = [pair.log_q(n) for n, e in latent if e]
    log_q_enum = sum(summed[1:], summed[0]) if summed else None

    def expect(value):  # Σ_e q(e) value, then the mean over draws: (B,)
        if log_q_enum is not None:
            value = value * log_q_enum.exp()  # broadcast to the joint enumeration shape
        value = value.reshape(-1, *value.shape[-2:])
        if log_q_enum is None and value.shape[0] > 1:
            raise ProgramError("the model enumerates a site that the guide does not: every "
                               "enumerated latent site must be a guide site")
        return value.sum(0).mean(0).expand(x.shape[0])

    observed = [pair.log_p(n) for n in pair.observed]
    reconstruction = expect(sum(observed[1:], observed[0])) if observed else x.new_zeros(
        x.shape[0])
    terms, methods = {"reconstruction": reconstruction}, {}
    total_kl = torch.zeros_like(reconstruction)
    for name, _ in latent:
        value, methods[name] = _kl(pair, name, kl, qualified)
        terms[f"kl_{name}"] = expect(value)
        total_kl = total_kl + terms[f"kl_{name}"]
    ordered = {"elbo": reconstruction - total_kl, "reconstruction": reconstruction,
               "kl": total_kl}
    return {**ordered, **{k: v for k, v in terms.items() if k.startswith("kl_")}}, methods


def summary_method(methods):
    """One word for the KL of all latent sites: ``"analytic"`` when every continuous site's KL
    is in closed form (enumerated sites are exact sums), ``"monte-carlo"`` when none is,
    ``"mixed"`` otherwise."""
    kinds = {"analytic" if m == "exact" else m for m in methods.values()}
    if not kinds or kinds == {"analytic"}:
        return "analytic"
    return "monte-carlo" if kinds == {"monte-carlo"} else "mixed"


def observed_mean(module, x, y=None, reconstruct=True):
    """E[x|·] at the model's observed site for ``x``: z drawn from the guide
    (``reconstruct=True``, a reconstruction) or from the prior (a sample; the values of ``x``
    are then only its shape). An enumerated site is sampled here, not summed."""
    with OwnParameters(), pyro.validation_enabled(False):
        if reconstruct:
            guide = poutine.trace(module.guide).get_trace(*_args(x, y))
            program = poutine.replay(module.model, trace=guide)
        else:
            program = module.model
        trace = poutine.trace(program).get_trace(*_args(x, y))
    for site in trace.nodes.values():
        if is_sample(site) and site["is_observed"] and site["value"] is x:
            try:
                return site["fn"].mean
            except NotImplementedError:
                raise ProgramError(
                    f"the model's observed site '{site['name']}' has a "
                    f"{type(site['fn']).__name__} distribution without a mean: pictures need "
                    "E[x|z]") from None
    raise ProgramError("the model observes no site at the examples x (pyro.sample(..., obs=x))")


def classify(module, x, num_samples=1):
    """argmax of the guide's label distribution q(y|x) (its site ``"y"`` when no label is
    given), averaged over ``num_samples`` draws of the latents it depends on (e.g. an ADGM's
    auxiliary a). Raises :class:`ProgramError` if the guide infers no label."""
    nesting = plate_nesting(module)
    draws = pyro.plate(SAMPLE_PLATE, num_samples, dim=-(nesting + 1))
    with OwnParameters(), pyro.validation_enabled(False), draws:
        guide = poutine.trace(module.guide).get_trace(x)
    site = guide.nodes.get("y")
    if site is None or site["type"] != "sample" or not hasattr(site["fn"], "probs"):
        raise ProgramError("the model infers no label: its guide has no discrete site 'y' when "
                           "no label is given")
    probs = site["fn"].probs  # (..., K draws, B, classes)
    while probs.dim() > 3:
        probs = probs.mean(0)
    return probs.reshape(-1, x.shape[0], probs.shape[-1]).mean(0).argmax(-1)


def parameter_groups(module):
    """``{group: [parameters]}`` for the gradient-noise report: the model's top-level child
    modules by attribute name (an encoder, a decoder, a prior ...), trainable parameters only,
    empty groups left out; parameters held by the model itself form the group ``"model"``. A
    wrapper with one child and no parameters of its own (a user's module wrapped as a kind) is
    looked through."""
    children = list(module.children())
    while len(children) == 1 and not any(True for _ in module.parameters(recurse=False)):
        module, children = children[0], list(children[0].children())
    groups = {}
    own = [p for p in module.parameters(recurse=False) if p.requires_grad]
    if own:
        groups["model"] = own
    for name, child in module.named_children():
        params = [p for p in child.parameters() if p.requires_grad]
        if params:
            groups[name] = params
    return groups


def check_programs(module, x, y=None):
    """Trace the pair once on ``x`` and raise a one-line :class:`ProgramError` if the
    estimators cannot read it: a program missing, a site outside the data plate, a latent site
    of the model without a guide site or the reverse."""
    for program in ("model", "guide"):
        if not callable(getattr(module, program, None)):
            raise ProgramError(f"the model has no '{program}' method: a model kind needs the Pyro "
                               "programs model(x, y=None) and guide(x, y=None)")
    with _probe(x):
        pair = trace_pair(module, x, y)
    for site in [*pair.model.nodes.values(), *pair.guide.nodes.values()]:
        if is_sample(site):
            pair.per_example(site, site["log_prob"])  # raises for a site outside the plate
    model_latent = [n for n, s in pair.model.nodes.items() if is_latent(s)]
    guide_latent = [n for n, _ in pair.latent]
    for name in model_latent:
        if name not in guide_latent:
            raise ProgramError(f"the model's latent site '{name}' has no site in the guide: "
                               "the guide must draw every latent site of the model")
    for name in guide_latent:
        if name not in pair.model.nodes:
            raise ProgramError(f"the guide's site '{name}' is not a site of the model: model "
                               "and guide must have the same latent sites")
    if not pair.observed:
        raise ProgramError("the model observes nothing: add pyro.sample(\"x\", ..., obs=x)")
