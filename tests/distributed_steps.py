"""A few training steps, run by ``tests/test_distributed.py`` alone or under torchrun.

    python tests/distributed_steps.py KIND OBJECTIVE OUT            # one process
    torchrun --standalone --nproc_per_node=2 tests/distributed_steps.py KIND OBJECTIVE OUT

Every rank trains the same model on the same global batches (batch 41, so the shards are
uneven, then a batch of one example, so one rank has an empty shard); rank 0 saves the
parameters to OUT.
"""

import sys

import pyro
import torch

import pyrovae as pv
from pyrovae import distributed


def main(kind, objective, out, steps=4):
    world, _ = distributed.init("cpu")
    torch.set_num_threads(1)
    labels = 50 if kind == "m2" else None
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


if __name__ == "__main__":
    main(*sys.argv[1:4])
