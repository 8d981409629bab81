"""What the traces of a model/guide pair say about their sites: which are latent, which are
summed out by enumeration, and for which latent sites a closed-form KL is a valid estimate.

The closed-form rule. ``TraceMeanField_ELBO`` replaces E_q[log q(z) − log p(z | pa)] by
KL(q(z | ·) ‖ p(z | pa)) computed at the guide's draws of the parents ``pa`` of z in the model.
That is exact in expectation only if those parents do not depend on z itself in the guide, i.e.
if the guide draws them *before* z. Pyro checks this coarsely (it warns unless model and guide
visit their sites in the same order); pyrovae applies it per site: the KL of z may be taken in
closed form when every latent site that the model draws before z is also drawn before z by the
guide. In a two-layer VAE with p(z₂) p(z₁|z₂) and q(z₁|x) q(z₂|z₁), the KL of z₂ qualifies
(it has no model parents) and that of z₁ does not (its parent z₂ is drawn after it, from it).
"""

from pyro.poutine.util import site_is_subsample

__all__ = ["enumerated", "is_latent", "is_sample", "latent_names", "mean_field_sites"]


def is_sample(site):
    """A sample site of the program (not a plate's subsample index)."""
    return site["type"] == "sample" and not site_is_subsample(site)


def is_latent(site):
    """A sample site that is not observed."""
    return is_sample(site) and not site["is_observed"]


def enumerated(site):
    """Whether the site is summed out by parallel enumeration (``infer={"enumerate":
    "parallel"}``)."""
    return site["infer"].get("enumerate") == "parallel"


def latent_names(trace):
    """The latent sites of ``trace`` in the order the program drew them."""
    return [name for name, site in trace.nodes.items() if is_latent(site)]


def mean_field_sites(model_trace, guide_trace):
    """The latent sites whose KL may be computed in closed form (see the module docstring):
    those z for which every latent site drawn before z in the model is drawn before z in the
    guide. Enumerated sites are not among them (their sum is exact anyway)."""
    guide_order = {name: i for i, name in enumerate(latent_names(guide_trace))}
    qualified, before = set(), []
    for name in latent_names(model_trace):
        if name in guide_order and not enumerated(guide_trace.nodes[name]):
            if all(p in guide_order and guide_order[p] < guide_order[name] for p in before):
                qualified.add(name)
        before.append(name)
    return qualified
