"""The compiled SVI step: loss and gradient traced once into a flat graph, then compiled.

Eagerly, every step runs Pyro's effect handlers, the model and guide programs and the ELBO's
bookkeeping in Python. Here that Python runs once, while
``torch.fx.experimental.proxy_tensor.make_fx`` records the tensor operations of

    (parameters, x, y, β, noise) ↦ (−ELBO(x), ∇_parameters −ELBO(x))

(``torch.func.grad_and_value`` over ``torch.func.functional_call`` of the model's ``loss``),
with flat tensor inputs and outputs, and inductor (``torch._inductor.compile``: no Dynamo guards
to check on every call) turns the flat graph into fused kernels; later steps call the compiled
graph and a fused Adam step. This works because pyrovae's objectives never read a
tensor back (:mod:`pyrovae.infer.objectives.base`) and Pyro's per-step validation is off.

Randomness stays exact: the first call of a graph runs the step eagerly under
:class:`~pyrovae.noise.RecordedNoise` to learn which standard-normal draws it makes; every call
draws them outside the graph with :class:`~pyrovae.noise.KeyedNoise`'s keys and passes them in
(:class:`~pyrovae.noise.GivenNoise` hands them to the sites while tracing). So a compiled step
and an eager one with the same seed and step use the same numbers, and the tests compare them.

A graph is specialized on what Python decided while tracing: the batch's shape (the last,
smaller batch of an epoch has its own graph), whether labels are given (M2's labelled and
unlabelled batches), and whether β is 1 (no scale at all), 0 (the latent site masked out) or
anything else (β is then a tensor input, so a KL warm-up does not re-trace every epoch). Graphs
are cached per such key. Tracing takes a few seconds and inductor's first compile tens of
seconds per graph (its on-disk cache makes later runs quicker).

What cannot be traced is refused in one line when the first graph is built, naming the reason:
a component whose Python reads a tensor's value (``if tensor:``, ``.item()``), or a random draw
that is not a standard normal of a guide site.
"""

import torch
from torch import nn

from .errors import ConfigError
from .noise import GivenNoise, RecordedNoise, keyed_normal, site_seed
from .params import OwnParameters

__all__ = ["CompiledLoss"]


def _functional_loss(wrapper, trained, fixed, x, y, kl_weight):
    """``module.loss`` with the parameters and buffers replaced by the given tensors."""
    from torch.func import functional_call

    params = {f"module.{k}": v for k, v in {**trained, **fixed}.items()}
    return functional_call(wrapper, params, (x, y, kl_weight))


def _quiet_compiler_logs():
    """inductor's C++ toolchain probe warns "No CUDA runtime is found" on a CPU-only machine:
    not the user's concern."""
    import logging

    logging.getLogger("torch.utils.cpp_extension").setLevel(logging.ERROR)


class _Loss(nn.Module):
    """``module.loss(objective, x, y, kl_weight)`` as a ``forward``, for ``functional_call``."""

    def __init__(self, module, objective):
        super().__init__()
        self.module = module
        self.objective = objective

    def forward(self, x, y, kl_weight):
        with OwnParameters():  # the traced tensors must not reach Pyro's param store
            return self.module.loss(self.objective, x, y, kl_weight=kl_weight)


def _views_as_reshapes(graph):
    """Turn the traced graph's ``aten.view`` into ``aten.reshape``: the graph is recorded with
    eager strides, and inductor may lay an intermediate out otherwise (seen: M2's enumerated
    (classes, batch, features) tensor), where a view is impossible and a reshape copies. The
    graph has no in-place writes through views, so the result is the same."""
    for node in graph.graph.nodes:
        if node.op == "call_function" and node.target is torch.ops.aten.view.default:
            node.target = torch.ops.aten.reshape.default
    graph.recompile()


def _draw(plan, seed, step, offset, total, device):
    """The keyed noise of a graph's planned draws (:class:`~pyrovae.noise.RecordedNoise`'s
    ``(site, index, shape, axis, dtype)``), as :class:`~pyrovae.noise.KeyedNoise` draws it."""
    return [keyed_normal(site_seed(seed, step, site, index), shape, axis, offset, total, dtype,
                         device) for site, index, shape, axis, dtype in plan]


def _weight_key(kl_weight):
    return "one" if kl_weight == 1 else "zero" if kl_weight == 0 else "tensor"


class CompiledLoss:
    """Loss and gradients of ``module.loss`` from cached, compiled graphs.

    :param module: a :class:`~pyrovae.models.base.LatentVariableModel`.
    :param objective: the Pyro ELBO its ``loss`` takes (a sync-free one).
    :param str backend: ``"inductor"`` (the default), another ``torch.compile`` backend, or
        ``None``: run the traced graph without compiling it (the tests check traces that way).
    """

    def __init__(self, module, objective, backend="inductor"):
        self.wrapper = _Loss(module, objective)
        self.backend = backend
        # key -> (compiled graph, noise plan, names of differentiated parameters, state inputs)
        self.graphs = {}

    def __call__(self, x, y, kl_weight, seed, step, offset=0, total=None):
        """``(loss, {parameter name: gradient}, gradient norm)`` for the batch (the norm is
        Σ_p ‖∇_p‖ over the parameters, as the divergence monitor wants it, fused into the
        graph), the noise keyed by
        ``(seed, step)`` as in :class:`~pyrovae.noise.KeyedNoise` (``offset``, ``total``: this
        rank's place in the global batch)."""
        key = (tuple(x.shape), x.dtype, x.device, None if y is None else tuple(y.shape),
               _weight_key(kl_weight))
        if key not in self.graphs:
            import pyro

            with pyro.validation_enabled(False):  # its checks read values: untraceable
                self.graphs[key] = self._build(x, y, kl_weight, seed, step, offset, total)
        graph, plan, names, state = self.graphs[key]
        inputs = [*state, x]
        if y is not None:
            inputs.append(y)
        if _weight_key(kl_weight) == "tensor":
            inputs.append(torch.as_tensor(kl_weight, dtype=x.dtype, device=x.device))
        inputs.extend(_draw(plan, seed, step, offset, total, x.device))
        loss, norm, *grads = graph(*inputs)
        return loss, dict(zip(names, grads, strict=True)), norm

    def _build(self, x, y, kl_weight, seed, step, offset, total):
        from torch.func import grad_and_value
        from torch.fx.experimental.proxy_tensor import make_fx

        wrapper, module = self.wrapper, self.wrapper.module
        # 1. one eager pass: which noise the step draws, and which parameters get a gradient
        recorded = RecordedNoise(seed, step, offset, total)
        with recorded:
            loss = wrapper(x, y, kl_weight)
        params = dict(module.named_parameters())
        used = torch.autograd.grad(loss, list(params.values()), allow_unused=True)
        names = [name for name, g in zip(params, used, strict=True) if g is not None]
        others = [name for name in params if name not in names]
        buffers = dict(module.named_buffers())
        plan = recorded.draws
        weight_key = _weight_key(kl_weight)
        state = [params[n] for n in names] + [params[n] for n in others] + list(buffers.values())
        counts = (len(names), len(others), len(buffers))

        # 2. the flat function of (trained, other parameters, buffers, x, [y], [β], noise)
        def flat(*inputs):
            inputs = list(inputs)
            trained = dict(zip(names, inputs[: counts[0]], strict=True))
            del inputs[: counts[0]]
            fixed = dict(zip(others, inputs[: counts[1]], strict=True))
            del inputs[: counts[1]]
            fixed.update(zip(buffers, inputs[: counts[2]], strict=True))
            del inputs[: counts[2]]
            xb = inputs.pop(0)
            yb = inputs.pop(0) if y is not None else None
            beta = inputs.pop(0) if weight_key == "tensor" else kl_weight

            def loss_of(trained):
                with GivenNoise(inputs):
                    return _functional_loss(wrapper, trained, fixed, xb, yb, beta)

            grads, value = grad_and_value(loss_of)(trained)
            grads = [grads[n] for n in names]
            norm = torch.stack([g.norm() for g in grads]).sum() if grads else value * 0
            return (value, norm, *grads)

        example = [t.detach() for t in state] + [x] + ([y] if y is not None else [])
        if weight_key == "tensor":
            example.append(torch.as_tensor(kl_weight, dtype=x.dtype, device=x.device))
        example += _draw(plan, seed, step, offset, total, x.device)
        try:
            graph = make_fx(flat)(*example)
        except ConfigError:
            raise
        except Exception as e:  # a data-dependent Python decision in some component
            raise ConfigError(
                f"the training step cannot be traced for compilation ({type(e).__name__}: "
                f"{str(e).splitlines()[0] if str(e) else 'no message'}); a component reads a "
                "tensor's value in Python: train without compiling (train.compile = false)"
            ) from None
        _views_as_reshapes(graph)
        if self.backend == "inductor":
            import torch._inductor as inductor

            _quiet_compiler_logs()
            graph = inductor.compile(graph, example)
        elif self.backend is not None:
            graph = torch.compile(graph, backend=self.backend, dynamic=False)
        return graph, plan, names, state
