"""glibc allocator tuning, applied once when instructrl is imported.

PyTorch's CPU allocator is plain ``malloc``. glibc serves blocks above its mmap threshold
with fresh ``mmap`` calls and gives freed heap memory back to the kernel past its trim
threshold, so each training step's activations (tens of MB per tensor, freed at the end
of the step) are page-faulted in again, zero-filled by the kernel, on the next step. On
the 2-core build machine that fault-and-zero work is a large share of an SFT step.
Raising both thresholds keeps the memory in the process and reuses it: RSS stays near the
peak of a step (it would reach that peak anyway) and the page faults go away.

Skipped when ``INSTRUCTRL_MALLOC_TUNING=0``, when the user already set glibc's own
``MALLOC_*`` variables (theirs win), and off Linux/glibc. ``benchmarks/malloc.py``
measures the effect side by side.
"""

from __future__ import annotations

import ctypes
import os
import sys

M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD_MAX = 32 * 1024 * 1024  # glibc's ceiling on 64-bit (4 MiB * sizeof(long))

applied: bool = False


def tune() -> bool:
    """Apply the tuning; returns whether it was applied (idempotent)."""
    global applied
    if applied:
        return True
    if os.environ.get("INSTRUCTRL_MALLOC_TUNING", "1") == "0" or not sys.platform.startswith("linux"):
        return False
    if any(k.startswith("MALLOC_") and k.endswith("_") for k in os.environ):
        return False
    try:
        libc = ctypes.CDLL("libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    ok = bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_MAX)) and bool(mallopt(M_TRIM_THRESHOLD, 2**31 - 1))
    applied = ok
    return ok
