"""``release_free_memory`` calls glibc's malloc_trim, at most every ``every_seconds``."""

import pyrovae.memory as memory


class FakeLibc:
    def __init__(self):
        self.calls = []

    def malloc_trim(self, pad):
        self.calls.append(pad)


def test_trims_at_most_every_interval(monkeypatch):
    libc = FakeLibc()
    clock = [100.0]
    monkeypatch.setattr(memory, "_libc", libc)
    monkeypatch.setattr(memory, "_last", 0.0)
    monkeypatch.setattr(memory.time, "monotonic", lambda: clock[0])
    memory.release_free_memory(every_seconds=2.0)
    assert libc.calls == [0]  # the first call trims
    clock[0] = 101.0
    memory.release_free_memory(every_seconds=2.0)
    assert libc.calls == [0]  # 1 s later: not yet
    clock[0] = 102.5
    memory.release_free_memory(every_seconds=2.0)
    assert libc.calls == [0, 0]


def test_without_glibc_it_is_a_no_op(monkeypatch):
    monkeypatch.setattr(memory, "_libc", False)
    monkeypatch.setattr(memory, "_last", 0.0)
    memory.release_free_memory()  # nothing to call, nothing raised


def test_finds_the_real_libc_on_this_machine(monkeypatch):
    monkeypatch.setattr(memory, "_libc", None)
    monkeypatch.setattr(memory, "_last", 0.0)
    memory.release_free_memory()
    assert memory._libc is False or hasattr(memory._libc, "malloc_trim")
