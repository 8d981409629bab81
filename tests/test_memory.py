"""``release_free_memory`` calls glibc's malloc_trim, at most every ``every_seconds``; ``require``
refuses a request beyond the available memory in one line, before anything is allocated."""

import pytest

import pyrovae.memory as memory
from pyrovae.errors import ConfigError, DataError


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


@pytest.mark.parametrize("n, text", [
    (0, "0 B"), (1023, "1023 B"), (1024, "1.0 KiB"), (1536 * 1024, "1.5 MiB"),
    (3 * 2**30, "3.0 GiB"), (int(3.64 * 2**40), "3.6 TiB"), (5 * 2**60, "5.2e+06 TiB"),
])
def test_format_bytes(n, text):
    assert memory.format_bytes(n) == text


def test_require_refuses_more_than_is_available(monkeypatch):
    monkeypatch.setattr(memory, "available_bytes", lambda device="cpu": 8 * 2**30)
    memory.require(8 * 2**30, "a request", "ask for less")  # exactly what there is: fine
    with pytest.raises(ConfigError) as caught:
        memory.require(8 * 2**30 + 1, "model.z_dim = 10", "choose a smaller z_dim")
    assert str(caught.value) == ("model.z_dim = 10 would need 8.0 GiB of memory, but this "
                                 "machine has 8.0 GiB available; choose a smaller z_dim")
    with pytest.raises(DataError):
        memory.require(10**15, "x.npy", "check the file", error=DataError)


def test_require_passes_where_memory_cannot_be_told(monkeypatch):
    monkeypatch.setattr(memory, "available_bytes", lambda device="cpu": None)
    memory.require(10**30, "anything", "unused")


def test_available_bytes_reads_this_machine():
    """On Linux, MemAvailable of /proc/meminfo: more than nothing, less than 2^50 bytes."""
    have = memory.available_bytes()
    assert have is not None and 0 < have < 2**50
