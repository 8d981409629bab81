"""A few training steps, run by ``tests/test_distributed.py`` alone or under torchrun.

    python tests/distributed_steps.py KIND OBJECTIVE OUT            # one process
    torchrun --standalone --nproc_per_node=2 tests/distributed_steps.py KIND OBJECTIVE OUT

Every rank trains the same model on the same global batches (batch 41, so the shards are
uneven, then a batch of one example, so one rank has an empty shard); rank 0 saves the
parameters to OUT.

    python tests/distributed_steps.py evaluate KIND OUT [BATCH]   # (or under torchrun)

evaluates a model (seeded alike on every rank) on 101 test examples, so the shards are uneven:
its ELBO, accuracy and importance-sampled bound, with evaluation batches of BATCH examples;
rank 0 saves the numbers to OUT.
"""

import sys

import pyro
import torch

import pyrovae as pv
from pyrovae import distributed


def main(kind, objective, out, steps=4):
    world, _ = distributed.init("cpu")
    torch.set_num_threads(1)
    labels = 50 if kind == "m2" else 0
    data = pv.load_dataset("digits", binarize="dynamic" if kind == "vae" else "none",
                           labels=labels)
    pyro.set_rng_seed(0)
    if kind == "vae":
        model = pv.VAE.build(data.event_shape, z_dim=4, encoder={"name": "mlp", "hidden": [32]},
                             decoder={"name": "mlp", "hidden": [32]})
    else:
        model = pv.models.M2.build(data.event_shape, data.num_classes, z_dim=4)
    trainer = pv.Trainer(model, objective=objective, progress=False, world=world, seed=3)
    batches = data.batches(41, seed=0)
    for index, (x, y) in zip(range(steps), batches):
        trainer.step(x, y, index=index)
    trainer.step(x[:1], None if y is None else y[:1], index=steps)  # rank 1: no example
    if world.is_main:
        torch.save({k: v.detach().clone() for k, v in model.state_dict().items()}, out)
    distributed.finish()


def evaluate(kind, out, batch_size=1000):
    from pyrovae.infer import evaluate_log_likelihood

    world, _ = distributed.init("cpu")
    torch.set_num_threads(1)
    data = pv.load_dataset("digits", binarize="static")
    pyro.set_rng_seed(0)
    if kind == "vae":
        model = pv.VAE.build(data.event_shape, z_dim=4, encoder={"name": "mlp", "hidden": [32]},
                             decoder={"name": "mlp", "hidden": [32]})
    else:
        model = pv.MODELS.get(kind).build(data.event_shape, data.num_classes, z_dim=4)
    model.eval()
    x, y = data.test.x[:101], data.test.y[:101]
    result = model.evaluate(x, y, int(batch_size), num_samples=3, world=world)
    bound = evaluate_log_likelihood(model, x, 20, max_rows=int(batch_size) * 20, world=world,
                                    y=model.given(y))
    numbers = {k: v for k, v in result.items() if isinstance(v, float)}
    numbers.update(bound)
    if world.is_main:
        torch.save(numbers, out)
    distributed.finish()


if __name__ == "__main__":
    if sys.argv[1] == "evaluate":
        evaluate(*sys.argv[2:5])
    else:
        main(*sys.argv[1:4])
