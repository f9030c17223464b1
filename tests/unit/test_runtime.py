"""The CPU allocator tuning keeps freed memory in the process (glibc) and can be turned off."""

import os
import subprocess
import sys
import textwrap

import pytest

from instructrl import runtime

PROBE = textwrap.dedent(
    """
    import os, sys
    from instructrl.runtime import tune_cpu_allocator
    print(tune_cpu_allocator())
    page = os.sysconf("SC_PAGE_SIZE")
    rss = lambda: int(open("/proc/self/statm").read().split()[1]) * page
    block = b"\\x01" * (256 << 20)  # 256 MiB, every page touched
    before = rss()
    del block
    print((before - rss()) >> 20)  # MiB handed back to the OS by the free
    """
)


def probe(env: dict[str, str]) -> tuple[str, int]:
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, check=True,
                         env={**os.environ, **env}).stdout.split()
    return out[0], int(out[1])


@pytest.mark.skipif(not sys.platform.startswith("linux") or os.confstr("CS_GNU_LIBC_VERSION") is None, reason="glibc only")
def test_tuned_allocator_keeps_freed_memory_and_the_switch_turns_it_off():
    tuned, kept = probe({"INSTRUCTRL_MALLOC_TUNING": "1"})
    default, returned = probe({"INSTRUCTRL_MALLOC_TUNING": "0"})
    assert (tuned, default) == ("True", "False")
    assert returned >= 200, returned  # glibc's default: a large block is munmapped on free
    assert kept <= 16, kept  # tuned: it stays in the heap for the next step to reuse


def test_tuning_is_idempotent():
    runtime.tune_cpu_allocator.cache_clear()
    first = runtime.tune_cpu_allocator()
    assert runtime.tune_cpu_allocator() is first


def test_resolve_device_auto_cpu_and_unavailable_cuda(monkeypatch):
    import pytest
    import torch

    from instructrl.runtime import resolve_device

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_device("auto") == torch.device("cpu") and resolve_device("cpu") == torch.device("cpu")
    with pytest.raises(ValueError, match=r"device 'cuda:1': torch sees 0 CUDA device"):
        resolve_device("cuda:1")
    with pytest.raises(ValueError, match=r"device 'gpu0': not a torch device"):
        resolve_device("gpu0")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    assert resolve_device("auto") == torch.device("cuda") and resolve_device("cuda:1") == torch.device("cuda:1")
    with pytest.raises(ValueError, match=r"torch sees 2 CUDA"):
        resolve_device("cuda:2")


def test_progress_false_silences_transformers_progress_bars():
    from transformers.utils import logging as hf_logging

    from instructrl.runtime import set_up_process

    try:
        set_up_process(0, progress=False)  # e.g. "Writing model shards" at every checkpoint
        assert not hf_logging.is_progress_bar_enabled()
        set_up_process(0, progress=True)  # a later command in the same process shows them again
        assert hf_logging.is_progress_bar_enabled()
        set_up_process(0, progress=False)
        assert not hf_logging.is_progress_bar_enabled()
    finally:
        set_up_process(0, progress=True)
