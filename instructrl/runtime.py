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
import functools
import os

M_TRIM_THRESHOLD = -1  # glibc malloc.h
M_MMAP_MAX = -4
TRIM_THRESHOLD = 2**31 - 1  # mallopt takes an int: 2 GiB is its largest value
# The same settings through glibc's environment variables, for a process instructrl does not
# run itself (the benchmarks give them to TRL so that speed ratios compare code).
GLIBC_MALLOC_ENV = {"MALLOC_MMAP_MAX_": "0", "MALLOC_TRIM_THRESHOLD_": str(TRIM_THRESHOLD)}


@functools.cache
def tune_cpu_allocator() -> bool:
    """Keep freed memory in the process heap (glibc): no mmap for large blocks, heap trimmed
    only above 2 GiB of free top. Idempotent; returns whether the settings are in force."""
    if os.environ.get("INSTRUCTRL_MALLOC_TUNING", "1").strip().lower() in ("0", "false", "no", "off"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # not glibc (musl, macOS, Windows): leave the allocator alone
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return bool(mallopt(M_MMAP_MAX, 0)) and bool(mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD))


_BARS_OFF = False  # set_up_process turned transformers' progress bars off in this process


def set_up_process(threads: int, progress: bool = True) -> None:
    """Every command's opening: the allocator setting above, when ``threads`` is given,
    torch's CPU threads (0 keeps torch's default), and with ``progress=False`` no progress bars
    from transformers either (it draws one per checkpoint saved, into logs asked to be quiet)."""
    global _BARS_OFF
    tune_cpu_allocator()
    if not progress or _BARS_OFF:  # off; or back on for a command with progress after one without
        from transformers.utils import logging as hf_logging

        (hf_logging.enable_progress_bar if progress else hf_logging.disable_progress_bar)()
        _BARS_OFF = not progress
    if threads:
        import torch

        torch.set_num_threads(threads)


def resolve_device(name: str):
    """A torch device from a config value: ``auto`` is the first CUDA GPU when torch sees one,
    else the CPU; ``cpu``, ``cuda``, ``cuda:1`` ... as given, a CUDA device that torch cannot
    see being an error that says so (rather than a failure at the first tensor moved there)."""
    import torch

    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError as e:
        raise ValueError(f"device {name!r}: not a torch device (auto | cpu | cuda[:i]): {e}") from e
    if device.type == "cuda" and (not torch.cuda.is_available() or (device.index or 0) >= torch.cuda.device_count()):
        raise ValueError(f"device {name!r}: torch sees {torch.cuda.device_count() if torch.cuda.is_available() else 0} CUDA "
                         f"device(s) (torch {torch.__version__}, built with CUDA {torch.version.cuda})")
    return device
