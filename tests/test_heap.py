"""The command line keeps freed blocks in its heap (glibc), and leaves other C libraries alone."""

from __future__ import annotations

import sys

import pytest

from cifar_doctor.cli import heap


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="mallopt is glibc's")
def test_keep_freed_memory_sets_glibc_malloc():
    import ctypes.util

    if ctypes.util.find_library("c") is None:
        pytest.skip("no C library found by name")
    assert heap.keep_freed_memory() is True


def test_keep_freed_memory_leaves_other_platforms(monkeypatch):
    monkeypatch.setattr(sys, "platform", "darwin")
    assert heap.keep_freed_memory() is False


def test_keep_freed_memory_leaves_a_c_library_without_mallopt(monkeypatch):
    class NoMallopt:
        def __init__(self, name):
            pass

    monkeypatch.setattr(sys, "platform", "linux")
    monkeypatch.setattr(heap.ctypes, "CDLL", NoMallopt)
    assert heap.keep_freed_memory() is False
