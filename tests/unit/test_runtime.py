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


class FakeAccelerator:
    """Records how the trainers' Accelerator was asked for; on a machine that claims GPUs it
    lands where accelerate's single-process state would: cpu=True on the CPU, else the current
    CUDA device (``device`` forces a process already set up elsewhere)."""

    calls: list[dict] = []
    device = None

    def __init__(self, cpu: bool = False):
        import torch

        FakeAccelerator.calls.append({"cpu": cpu})
        if cpu and FakeAccelerator.device is not None and FakeAccelerator.device.type != "cpu":
            raise ValueError("AcceleratorState has already been initialized and cannot be changed, restart your runtime "
                             "completely and pass `cpu=True` to `Accelerator()`.")  # accelerate 1.x's words
        self.device = FakeAccelerator.device or (torch.device("cpu") if cpu else torch.device("cuda"))


def test_trainer_device_setting_reaches_accelerate(monkeypatch):
    """SFT's and the RM's `device`: auto is accelerate's choice, cpu keeps a GPU machine's run on
    the CPU, cuda:i makes that GPU current in a single process; one GPU per process under
    accelerate launch, and a process already on another device, are errors that say so."""
    import accelerate
    import torch

    from instructrl.runs import make_accelerator

    current = []
    monkeypatch.setattr(accelerate, "Accelerator", FakeAccelerator)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    monkeypatch.setattr(torch.cuda, "set_device", current.append)
    monkeypatch.setattr(torch.cuda, "current_device", lambda: current[-1] if current else 0)
    for var in ("LOCAL_RANK", "WORLD_SIZE"):
        monkeypatch.delenv(var, raising=False)
    FakeAccelerator.calls = []

    assert make_accelerator("auto").device == torch.device("cuda") and FakeAccelerator.calls == [{"cpu": False}]
    assert make_accelerator("cpu").device == torch.device("cpu") and FakeAccelerator.calls[-1] == {"cpu": True}
    assert make_accelerator("cuda:1").device.type == "cuda" and current == [1]
    with pytest.raises(ValueError, match=r"torch sees 2 CUDA"):
        make_accelerator("cuda:2")
    monkeypatch.setenv("LOCAL_RANK", "0")
    with pytest.raises(ValueError, match=r"device='cuda:1' names one device.*accelerate launch.*device=auto"):
        make_accelerator("cuda:1")
    assert make_accelerator("cpu").device == torch.device("cpu")  # cpu=True: accelerate's gloo processes
    monkeypatch.delenv("LOCAL_RANK")
    FakeAccelerator.device = torch.device("cuda", 0)  # this process trained on GPU 0 already
    try:
        with pytest.raises(ValueError, match=r"device='cpu', but this process already trains on another device"):
            make_accelerator("cpu")
        current.clear()
        with pytest.raises(ValueError, match=r"device='cuda:1'.*already trains.*\(cuda:0\)"):
            make_accelerator("cuda:1")
    finally:
        FakeAccelerator.device = None


def test_make_accelerator_with_the_real_accelerate_on_this_machine():
    """The real accelerate: `device=cpu` trains on the CPU; on a CPU-only machine `auto` does too,
    and a CUDA device is refused, saying torch sees none."""
    import torch

    from instructrl.runs import make_accelerator

    assert make_accelerator("cpu").device.type == "cpu"
    if not torch.cuda.is_available():
        assert make_accelerator("auto").device.type == "cpu"
        with pytest.raises(ValueError, match=r"device 'cuda': torch sees 0 CUDA"):
            make_accelerator("cuda")
