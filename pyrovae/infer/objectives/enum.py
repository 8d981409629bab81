"""The ELBO with discrete guide sites summed out exactly (parallel enumeration), sync-free.

For guide sites marked ``infer={"enumerate": "parallel"}`` (M2's label y), Pyro's
``TraceEnum_ELBO`` runs the guide and model once with every value of those sites laid out on
dimensions left of the plates, and takes each cost's expectation under their joint guide
probability q_E::

    ELBO = Σ_sites E_{q_E}[log p_site]  −  Σ_guide sites E_{q_E}[log q_site]

where for a cost that does not depend on an enumerated site the expectation is the cost
itself (q_E sums to one over the enumerated values). Other sites are sampled (reparameterized:
the expectation is differentiated through q_E exactly and through the sampled values by
reparameterization, the same estimator as Pyro's Dice surrogate with parallel enumeration).

:class:`EnumELBO` computes exactly this sum from Pyro's traces with plain tensor operations:
unlike ``TraceEnum_ELBO`` (Pyro 1.9), it packs no tensors, asks no ``mask.all()`` of the
probabilities and does not check the loss for NaN, so a step never waits on the device. It
supports what pyrovae's models need: parallel enumeration in the guide only (refused in one
line otherwise), any number of vectorized particles.
"""

from pyro.infer import TraceEnum_ELBO
from pyro.infer.enum import get_importance_trace

from ...errors import ConfigError

__all__ = ["EnumELBO"]


class EnumELBO(TraceEnum_ELBO):
    """Pyro's ``TraceEnum_ELBO`` for guide-side parallel enumeration, without host syncs."""

    def _get_trace(self, model, guide, args, kwargs):
        return get_importance_trace("flat", self.max_plate_nesting, model, guide, args, kwargs)

    def differentiable_loss(self, model, guide, *args, **kwargs):
        """−ELBO (summed over the batch, averaged over particles), differentiable."""
        elbo = 0.0
        for model_trace, guide_trace in self._get_traces(model, guide, args, kwargs):
            elbo = elbo + self._particle_elbo(model_trace, guide_trace)
        return -elbo / self.num_particles

    @staticmethod
    def _particle_elbo(model_trace, guide_trace):
        enumerated = []
        for name, site in guide_trace.nodes.items():
            if site["type"] != "sample":
                continue
            how = site["infer"].get("enumerate")
            if how == "parallel":
                enumerated.append(site)
            elif how is not None:
                raise ConfigError(f"guide site '{name}' asks for {how} enumeration; pyrovae's "
                                  "enumerated ELBO supports parallel enumeration only")
        for name, site in model_trace.nodes.items():
            if (site["type"] == "sample" and site["infer"].get("enumerate")
                    and name not in guide_trace.nodes):
                raise ConfigError(f"model site '{name}' is enumerated in the model; pyrovae's "
                                  "enumerated ELBO sums over guide sites only")
        weight = None  # q_E, the joint guide probability of the enumerated values
        if enumerated:
            log_q = enumerated[0]["log_prob"]
            for site in enumerated[1:]:
                log_q = log_q + site["log_prob"]
            weight = log_q.exp()

        def expectation(cost):
            return cost.sum() if weight is None else (weight * cost).sum()

        elbo = 0.0
        for site in model_trace.nodes.values():
            if site["type"] == "sample":
                elbo = elbo + expectation(site["log_prob"])
        for site in guide_trace.nodes.values():
            if site["type"] == "sample":
                elbo = elbo - expectation(site["log_prob"])
        return elbo
