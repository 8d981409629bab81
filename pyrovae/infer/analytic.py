"""Which KL terms an objective computes in closed form, and which it estimates by sampling.

Pyro's ``TraceMeanField_ELBO`` uses ``kl_divergence(q, p)`` for a latent site only when torch has
a closed form registered for that pair of distribution types (e.g. Normal || Normal); for every
other pair it silently falls back to the Monte Carlo estimate log q(z) − log p(z). The other
objectives always sample. :func:`kl_report` asks the same question Pyro asks, on the actual
distributions of a built model (traced on a dummy batch), so the answer is what training does.
"""

from dataclasses import dataclass

import torch
from pyro import poutine
from pyro.infer import TraceMeanField_ELBO
from pyro.poutine.util import site_is_subsample
from torch.distributions import Independent, kl_divergence

from ..errors import ConfigError
from ..registry import Component
from ..params import OwnParameters
from .objectives import OBJECTIVES
from .sites import mean_field_sites

__all__ = ["SiteKL", "kl_report"]


@dataclass
class SiteKL:
    """How the KL term of one latent site is computed.

    :param str site: the sample site's name.
    :param bool analytic: True when the objective uses a closed form.
    :param str q: the guide distribution's type; ``p``: the model's.
    :param str objective: the objective's class name.
    :param bool closed_form: whether torch has a closed form for (q, p) at all.
    :param bool enumerated: the site is summed out by enumeration (no KL term).
    :param bool qualifies: the site's model parents come before it in the guide, so the
        closed form is unbiased there.
    :param bool meanfield_trains: whether the model kind accepts the ``meanfield`` objective,
        so that the line may suggest it (a kind that
        :attr:`~pyrovae.models.base.LatentVariableModel.enumerates`, such as m2, refuses it).
    """

    site: str
    analytic: bool
    q: str
    p: str
    objective: str
    closed_form: bool
    enumerated: bool = False
    qualifies: bool = True
    meanfield_trains: bool = True

    @property
    def line(self):
        """One line for the training log and the run's config header."""
        pair = f"{self.q} || {self.p}"
        if self.enumerated:
            return f"latent {self.site}: summed out exactly by parallel enumeration ({self.q})"
        if self.analytic:
            return f"latent {self.site}: KL analytic ({self.objective}, {pair})"
        if not self.closed_form:
            return f"latent {self.site}: KL estimated by Monte Carlo: no closed form for {pair}"
        if not self.qualifies:
            return (f"latent {self.site}: KL estimated by Monte Carlo: its model parents are "
                    f"drawn after it by the guide, so the closed form for {pair} would be biased")
        if not self.meanfield_trains:
            return (f"latent {self.site}: KL estimated by Monte Carlo: {self.objective} samples "
                    f"log q - log p (a closed form exists for {pair}, but this model kind "
                    "refuses the objective that uses it)")
        return (
            f"latent {self.site}: KL estimated by Monte Carlo: {self.objective} samples "
            f"log q - log p (a closed form exists for {pair}; the meanfield objective uses "
            'it: train.objective = "meanfield")'
        )


def _trains_with(module, objective):
    """Whether ``module``'s kind accepts the objective named ``objective`` (its
    :meth:`~pyrovae.models.base.LatentVariableModel.check_objective`; a module without one
    accepts every objective)."""
    check = getattr(type(module), "check_objective", None)
    if check is None:
        return True
    try:
        check(Component(objective))
    except ConfigError:
        return False
    return True


def _type_name(d):
    """Distribution type without the Independent wrapper: Independent(Normal) -> 'Normal'."""
    while isinstance(d, Independent):
        d = d.base_dist
    return type(d).__name__


def pyro_name(elbo):
    """The name of the Pyro ELBO that ``elbo`` computes (pyrovae's sync-free subclasses, e.g.
    ``MeanFieldELBO``, report the Pyro class they reimplement: ``TraceMeanField_ELBO``)."""
    cls = next((c for c in type(elbo).__mro__ if c.__module__.startswith("pyro.")), type(elbo))
    return cls.__name__


def kl_report(module, objective, x=None, y=None):
    """Per latent site of ``module``: is the KL analytic under ``objective``?

    The guide is traced on ``x`` (default: a batch of two examples with every value 0.5, which
    lies in every likelihood's support), the model is replayed on the guide's draws, and for each
    latent site ``kl_divergence(q, p)`` is tried on the very distributions Pyro would see.

    :param module: a built model kind with ``model``, ``guide`` and ``event_shape``.
    :param objective: an objective name, table, Component or Pyro ELBO object.
    :param x: an optional batch to trace on.
    :param y: its labels, for a conditional model (default: class 0 for every example).
    :returns: a list of :class:`SiteKL`, in the guide's order.
    """
    elbo = OBJECTIVES.resolve(objective, {"max_plate_nesting": getattr(module, "max_plate_nesting", 1)})
    meanfield = isinstance(elbo, TraceMeanField_ELBO)
    if x is None:
        param = next(module.parameters(), None)
        device = param.device if param is not None else None
        x = torch.full((2, *module.event_shape), 0.5, device=device)
    args = (x,)
    if getattr(module, "conditional", False):
        args = (x, y if y is not None else torch.zeros(x.shape[0], dtype=torch.long,
                                                       device=x.device))
    with torch.no_grad(), OwnParameters():
        guide_trace = poutine.trace(module.guide).get_trace(*args)
        model_trace = poutine.trace(poutine.replay(module.model, trace=guide_trace)).get_trace(
            *args)
    qualified = mean_field_sites(model_trace, guide_trace)
    meanfield_trains = _trains_with(module, "meanfield")
    report = []
    for name, site in guide_trace.nodes.items():
        if (
            site["type"] != "sample"
            or site["is_observed"]
            or site_is_subsample(site)
            or name not in model_trace.nodes
        ):
            continue
        q, p = site["fn"], model_trace.nodes[name]["fn"]
        if site["infer"].get("enumerate") == "parallel":  # e.g. M2's label y
            report.append(SiteKL(name, False, _type_name(q), _type_name(p), "TraceEnum_ELBO",
                                 closed_form=False, enumerated=True))
            continue
        try:
            with torch.no_grad():
                kl_divergence(q, p)
            closed_form = True
        except NotImplementedError:
            closed_form = False
        report.append(
            SiteKL(
                site=name,
                analytic=meanfield and closed_form and name in qualified,
                q=_type_name(q),
                p=_type_name(p),
                objective=pyro_name(elbo),
                closed_form=closed_form,
                qualifies=name in qualified,
                meanfield_trains=meanfield_trains,
            )
        )
    return report
