"""How `cifar-doctor check` keeps the memory its passes free: in its heap, for the next pass.

The full passes over an image split (statistics, near-duplicate signatures, look-ups, verification)
allocate and free blocks of 1-32 MB thousands of times. glibc's malloc starts by handing blocks above
128 KB to the kernel as soon as they are freed (`mmap`), raising that threshold only as it sees larger
blocks freed, and trims the heap's top past twice the threshold, so new blocks are faulted in page by
page again and again: on full CIFAR-10 the kernel's share of `check` was 0.42-1.2 s of its 3.8-4.9 s
of CPU. With the threshold where glibc would end up (`MMAP_THRESHOLD_BYTES`) and the heap trimmed only
past `TRIM_THRESHOLD_BYTES`, it is 0.15-0.44 s, at the same peak memory (`python bench/check_speed.py
--heap`, and `cifar-doctor check` timed with `/usr/bin/time`). Only `cifar-doctor check` does this,
in its own process: a library must not change its host's allocator, and `compare`, whose TensorFlow
allocates as it pleases, was not measured with it.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

#: Blocks from this size up are mapped on their own and returned when freed; smaller ones come from the
#: heap and go back to it. glibc's own dynamic threshold stops at this size on 64-bit systems: set from
#: the start, it does not have to be learnt block by block.
MMAP_THRESHOLD_BYTES = 32 << 20

#: Free memory at the heap's top is handed back to the kernel only past this: the blocks one pass frees
#: (a chunk of 1,024 CIFAR-sized images as float32 is 12 MB) stay for the next.
TRIM_THRESHOLD_BYTES = 256 << 20

#: `mallopt` parameters (glibc's malloc.h).
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3


def keep_freed_memory() -> bool:
    """Set glibc's malloc to keep freed blocks in the heap; whether it could (glibc on Linux only)."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # another C library (musl): its allocator is left as it is
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    done = [mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES), mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD_BYTES)]
    return all(v == 1 for v in done)
