"""Process-level runtime settings shared by every command.

``tune_cpu_allocator``: on glibc (Linux), freed memory of large tensors goes straight back
to the OS (allocations over the mmap threshold are ``mmap``ed and ``munmap``ed one by one,
and the heap top is trimmed), so every training step, scoring pass and generation step
page-faults its activations, gradients and logits in again, zero-filled by the kernel. On
a CPU that is a large share of a step: measured on the PPO benchmark (``benchmarks/ppo.py``,
smollm2-135m), keeping that memory in the process made instructrl's training phase 22%
faster and an update 12% faster, at the same peak RSS, because peak memory is what it is
and reuse only avoids the faults. This is what Intel's PyTorch launcher and jemalloc /
tcmalloc set-ups do; here it is two ``mallopt`` calls. ``INSTRUCTRL_MALLOC_TUNING=0``
turns it off; nothing happens on other C libraries.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os

M_TRIM_THRESHOLD = -1  # glibc malloc.h
M_MMAP_MAX = -4
_INT_MAX = 2**31 - 1
_state: dict[str, bool] = {}


def tune_cpu_allocator() -> bool:
    """Keep freed memory in the process heap (glibc): no mmap for large blocks, heap trimmed
    only above 2 GiB of free top. Idempotent; returns whether the settings are in force."""
    if "done" in _state:
        return _state["done"]
    ok = False
    if os.environ.get("INSTRUCTRL_MALLOC_TUNING", "1").strip().lower() not in ("0", "false", "no", "off"):
        try:
            libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
            mallopt = libc.mallopt
            mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
            ok = bool(mallopt(M_MMAP_MAX, 0)) and bool(mallopt(M_TRIM_THRESHOLD, _INT_MAX))
        except (OSError, AttributeError):  # not glibc (musl, macOS, Windows): leave the allocator alone
            ok = False
    _state["done"] = ok
    return ok
