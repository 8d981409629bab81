"""Who owns a model's parameters: its ``nn.Module`` (pyrovae) or Pyro's param store (plain
Pyro).

pyrovae's trainer, compiled step and estimators optimize and read ``module.parameters()``
directly; ``pyro.infer.SVI`` with a ``pyro.optim`` optimizer finds parameters only through
``pyro.param``/``pyro.module`` calls in the programs. Both work on the same programs: the kinds
call ``pyro.module`` (:meth:`~pyrovae.models.base.LatentVariableModel.register`), and pyrovae
runs them under :class:`OwnParameters`, which answers those calls without the store.
"""

from pyro.poutine.messenger import Messenger
from pyro.poutine.runtime import _PYRO_STACK

__all__ = ["OwnParameters", "owns_parameters"]


class OwnParameters(Messenger):
    """Run Pyro programs whose parameters are owned by their ``nn.Module`` (pyrovae's trainer,
    its compiled step and its estimators): ``pyro.module``/``pyro.param`` calls inside are
    answered with the module's own tensors and never touch Pyro's global param store.

    Plain Pyro (``pyro.infer.SVI`` with a ``pyro.optim`` optimizer) needs the store, so the
    kinds register their networks there (:meth:`LatentVariableModel.register`) when they run
    outside this handler; inside it, registering would cost a dictionary lookup per parameter
    on every step, and a traced step (:mod:`pyrovae.compiled`) would put tracer tensors in
    the store.
    """

    def _pyro_param(self, msg):
        init = msg["args"][1] if len(msg["args"]) > 1 else msg["kwargs"].get("init_tensor")
        if init is None:
            return  # a lookup of a stored parameter by name: Pyro answers it
        msg["value"] = init() if callable(init) else init
        msg["done"] = True


def owns_parameters():
    """Whether an :class:`OwnParameters` handler is active."""
    return any(isinstance(m, OwnParameters) for m in _PYRO_STACK)
