"""Data-parallel training on ``torch.distributed``, launched by ``torchrun``.

``torchrun --nproc_per_node=N -m pyrovae train ...`` starts N copies of the same command with
``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ``LOCAL_WORLD_SIZE`` and a rendezvous address in the
environment; :func:`init` joins them into one process group (gloo on the CPU, NCCL on CUDA, one
GPU per rank where there are several). Every rank holds the whole data set and draws the same
epoch permutation from the shared seed; each step, rank r takes its contiguous shard of the
global batch (:meth:`World.bounds`), computes the summed −ELBO of its rows and its gradient,
and one all-reduce sums the gradients and the losses of all ranks, so every rank applies the
gradient of the *global* batch's summed loss: the same update as one process on the whole batch.
With the guide's noise keyed by example (:mod:`pyrovae.noise`) the result does not depend on
the number of ranks (a test compares 2 ranks with 1 to 1e-6). Evaluation draws by example too
(:class:`~pyrovae.noise.IndexedNoise`, indexed by each example's global position, which
:meth:`World.bounds` gives), so the validation ELBO of every epoch, ``evaluate`` and the
importance-sampled bound are the same on 1 or N ranks, to float rounding (tested to 1e-5).

Only rank 0 (:attr:`World.is_main`) writes the run directory, checkpoints and figures;
validation and test evaluations are sharded and gathered (:meth:`World.gather`), so every rank
sees the same numbers and takes the same decisions (best epoch, schedule, early stop).

Multi-node runs use torchrun's usual rendezvous flags, e.g. on each of two machines::

    torchrun --nnodes=2 --nproc_per_node=4 --rdzv_backend=c10d \\
        --rdzv_endpoint=HOST:29500 --rdzv_id=vae1 -m pyrovae train ...
"""

import os

__all__ = ["SINGLE", "World", "current", "init"]


class World:
    """This process's place among the data-parallel ranks, and the collectives pyrovae uses.

    :param int rank: this process's rank (0-based).
    :param int size: the number of ranks.
    :param int local_size: ranks on this machine (for threads per rank).
    """

    def __init__(self, rank=0, size=1, local_rank=0, local_size=1):
        self.rank, self.size = int(rank), int(size)
        self.local_rank, self.local_size = int(local_rank), int(local_size)

    @property
    def is_main(self):
        """Whether this rank writes files and prints (rank 0)."""
        return self.rank == 0

    def bounds(self, n):
        """``(start, stop)`` of this rank's contiguous shard of ``n`` rows: the first
        ``n % size`` ranks take one row more (a rank may get none when ``n < size``)."""
        base, extra = divmod(n, self.size)
        start = self.rank * base + min(self.rank, extra)
        return start, start + base + (self.rank < extra)

    def shard(self, x):
        """This rank's rows of ``x`` (a view; ``x`` itself in one process)."""
        if self.size == 1:
            return x
        start, stop = self.bounds(x.shape[0])
        return x[start:stop]

    def all_sum_(self, tensors):
        """Sum ``tensors`` over the ranks, in place, with one all-reduce of a flat buffer."""
        if self.size == 1 or not tensors:
            return
        import torch
        import torch.distributed as dist

        flat = torch.cat([t.reshape(-1) for t in tensors])
        dist.all_reduce(flat)
        offset = 0
        for t in tensors:
            t.copy_(flat[offset:offset + t.numel()].view_as(t))
            offset += t.numel()

    def gather(self, values, n):
        """Every rank's shard of per-example ``values`` (this rank's rows of ``n``, first axis)
        concatenated in rank order: the ``n`` rows on every rank."""
        if self.size == 1:
            return values
        import torch
        import torch.distributed as dist

        sizes = [World(r, self.size).bounds(n) for r in range(self.size)]
        longest = max(stop - start for start, stop in sizes)
        padded = values.new_zeros((longest, *values.shape[1:]))
        padded[: values.shape[0]] = values
        parts = [torch.empty_like(padded) for _ in range(self.size)]
        dist.all_gather(parts, padded)
        return torch.cat([part[: stop - start] for part, (start, stop) in zip(parts, sizes)])

    def __repr__(self):
        return f"World(rank={self.rank}, size={self.size})"


#: one process, no process group
SINGLE = World()
_current = [SINGLE]


def current():
    """The :class:`World` of this process (:data:`SINGLE` until :func:`init` joined a group)."""
    return _current[0]


def launched():
    """Whether this process was started by torchrun (or another launcher) as one of several."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def rank_label():
    """`` (rank R of N)`` for a rank other than 0 of a torchrun launch (from its environment,
    so also before the process group exists), else ``""``: rank 0 speaks for the job."""
    rank, size = int(os.environ.get("RANK", "0")), int(os.environ.get("WORLD_SIZE", "1"))
    return f" (rank {rank} of {size})" if size > 1 and rank > 0 else ""


def init(device):
    """Join the process group torchrun describes in the environment, once; returns
    ``(world, device)`` with ``device`` this rank's own (``cuda:LOCAL_RANK`` on CUDA).

    The backend is NCCL for CUDA devices and gloo otherwise. Without torchrun's environment
    this is one process: :data:`SINGLE` and ``device`` unchanged.
    """
    if not launched():
        return SINGLE, device
    import torch
    import torch.distributed as dist

    env = os.environ
    world = World(env["RANK"], env["WORLD_SIZE"], env.get("LOCAL_RANK", 0),
                  env.get("LOCAL_WORLD_SIZE", env["WORLD_SIZE"]))
    device = torch.device(device)
    if device.type == "cuda":
        device = torch.device("cuda", world.local_rank % max(1, torch.cuda.device_count()))
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    _current[0] = world
    return world, device


def finish():
    """Leave the process group at the end of a distributed command (:func:`current` still
    names this rank, for its last messages)."""
    if _current[0].size > 1:
        import torch.distributed as dist

        if dist.is_initialized():
            # all ranks leave together: gloo aborts a rank whose peer tears down first
            # ("terminate called without an active exception")
            dist.barrier()
            dist.destroy_process_group()
            # collect now what still refers to gloo's work objects: left to interpreter
            # finalization, their tensors are freed by a gloo thread that cannot take the GIL
            # any more and the rank aborts with the same message (7 runs in 45 on a loaded
            # machine with the barrier alone, 0 in 65 with this collection)
            import gc

            gc.collect()


def threads_per_rank(world):
    """CPU threads for each rank: the machine's cores shared by the ranks on it (oversubscribed
    OpenMP threads stall: an epoch was seen going from 3.5 s to 50 s)."""
    return max(1, (os.cpu_count() or 1) // world.local_size)
