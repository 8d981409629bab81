"""Pyro's JIT-compiled ELBOs, for the ``jit`` option of ``trace`` and ``meanfield``.

``JitTrace_ELBO`` and ``JitTraceMeanField_ELBO`` run the model and guide once under
``torch.jit.trace`` and replay the recorded graph afterwards, so the effect handlers' Python
work is paid once instead of on every step; the loss is the same Pyro ELBO (tests compare it
with the eager one under the same seed). They find the parameters through Pyro's param store,
so a model trained with them registers itself there once (see
:attr:`~pyrovae.models.base.LatentVariableModel.param_store_name`).

``torch.jit.trace`` is deprecated in recent torch releases; its FutureWarning is silenced here
because the user did not call it, and README says where JIT helps.
"""

import warnings

from pyro.infer import JitTrace_ELBO, JitTraceMeanField_ELBO

__all__ = ["JIT_ELBOS", "JitMeanFieldELBO", "JitTraceELBO", "is_jit", "recompile"]


class _QuietTrace:
    """Mixin: silence torch.jit.trace's deprecation warning when the ELBO compiles."""

    def differentiable_loss(self, model, guide, *args, **kwargs):
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", category=FutureWarning, module="torch.jit")
            warnings.filterwarnings("ignore", message=".*jit.*", category=DeprecationWarning)
            return super().differentiable_loss(model, guide, *args, **kwargs)


class JitTraceELBO(JitTrace_ELBO):
    """Pyro's ``JitTrace_ELBO``, with the gradient of ``differentiable_loss`` fixed.

    Pyro 1.9's version returns ``loss + (surrogate − surrogate.detach())`` where ``loss`` is
    itself differentiable, so for reparameterized sites the gradient is counted twice (Adam
    hides a factor of 2; SGD does not). Here the value is ``loss`` and the gradient that of the
    surrogate alone, as in the eager ``Trace_ELBO`` (a test compares the two).
    """

    def differentiable_loss(self, model, guide, *args, **kwargs):
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", category=FutureWarning, module="torch.jit")
            loss, surrogate = self.loss_and_surrogate_loss(model, guide, *args, **kwargs)
        return loss.detach() + (surrogate - surrogate.detach())


class JitMeanFieldELBO(_QuietTrace, JitTraceMeanField_ELBO):
    """Pyro's ``JitTraceMeanField_ELBO``, with its compiled loss kept between calls.

    Pyro 1.9's version stores the compiled function as ``_differentiable_loss`` but tests for
    ``_loss_and_surrogate_loss`` before compiling, so it re-traces on every call (about 4x
    slower than eager); pointing the tested name at the stored function restores the cache.
    """

    def differentiable_loss(self, model, guide, *args, **kwargs):
        self._loss_and_surrogate_loss = getattr(self, "_differentiable_loss", None)
        return super().differentiable_loss(model, guide, *args, **kwargs)


JIT_ELBOS = (JitTrace_ELBO, JitTraceMeanField_ELBO)


def is_jit(objective):
    """Whether ``objective`` is one of Pyro's JIT ELBOs (which read the param store)."""
    return isinstance(objective, JIT_ELBOS)


def recompile(objective):
    """Drop a JIT ELBO's compiled graph, so the next call traces the model and guide again.

    Needed when a Python constant the graph recorded changes, e.g. the KL weight during
    warm-up."""
    objective._loss_and_surrogate_loss = None
    objective._differentiable_loss = None
