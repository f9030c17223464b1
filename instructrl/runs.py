"""Run directories, provenance, metrics and checkpoints shared by every stage.

A run directory holds::

    config.yaml          the resolved config
    provenance.json      git SHA (+ dirty diff in git.diff), versions, hardware, argv
    metrics.jsonl        one JSON object per logged step ({"step": n, "sft/loss": ...})
    tb/                  TensorBoard event files
    checkpoints/step-N/  resumable state: HF weights + trainer_state.pt
    final/               the HF-format model (``from_pretrained`` loads it)
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from instructrl.config import save_config, to_dict
from instructrl.data.io import append_log, read_log, write_jsonl, write_text_atomic

REPO_ROOT = Path(__file__).resolve().parent.parent


def _git(*args: str) -> str | None:
    try:
        out = subprocess.run(["git", *args], cwd=REPO_ROOT, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout if out.returncode == 0 else None


def _versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": sys.version.split()[0]}
    for pkg in ("instructrl", "torch", "transformers", "accelerate", "peft", "datasets", "numpy"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            pass
    return out


def hardware() -> dict[str, Any]:
    import torch

    info: dict[str, Any] = {
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "cuda": torch.cuda.is_available(),
    }
    if torch.cuda.is_available():
        info["gpus"] = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                info["cpu"] = line.split(":", 1)[1].strip()
                break
        mem = Path("/proc/meminfo").read_text().splitlines()[0].split()[1]
        info["mem_gib"] = round(int(mem) / 2**20, 1)
    except OSError:
        pass
    return info


def provenance(argv: list[str] | None = None) -> dict[str, Any]:
    sha = _git("rev-parse", "HEAD")
    status = _git("status", "--porcelain")
    return {
        "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "argv": list(sys.argv if argv is None else argv),
        "git_sha": sha.strip() if sha else None,
        "git_dirty": bool(status and status.strip()),
        "versions": _versions(),
        "hardware": hardware(),
    }


def write_provenance(directory: str | Path, cfg: Any | None = None) -> None:
    """Write config.yaml, provenance.json and (when dirty) git.diff into ``directory``."""
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    if cfg is not None:
        save_config(cfg, d / "config.yaml")
    prov = provenance()
    write_text_atomic(d / "provenance.json", json.dumps(prov, indent=2))
    if prov["git_dirty"]:
        diff = _git("diff", "HEAD")
        if diff:
            write_text_atomic(d / "git.diff", diff)


class MetricsLogger:
    """Appends metrics to ``metrics.jsonl`` and TensorBoard. Safe to reopen on resume:
    entries past the resumed step are dropped first, so a resumed run's log has no
    duplicated steps."""

    def __init__(self, run_dir: str | Path, enabled: bool = True, resume_step: int | None = None, tensorboard: bool = True):
        self.enabled = enabled
        self.path = Path(run_dir) / "metrics.jsonl"
        self._tb = None
        if not enabled:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if resume_step is not None and self.path.exists():
            write_jsonl(self.path, [r for r in read_log(self.path) if r.get("step", 0) <= resume_step])
        elif resume_step is None and self.path.exists():
            self.path.unlink()
        if tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter

                self._tb = SummaryWriter(str(Path(run_dir) / "tb"), purge_step=resume_step)
            except ImportError:  # tensorboard is optional at run time
                self._tb = None

    def log(self, step: int, metrics: dict[str, float]) -> None:
        if not self.enabled:
            return
        row = {"step": step, **{k: (float(v) if isinstance(v, (int, float)) else v) for k, v in metrics.items()}}
        append_log(self.path, [row])
        if self._tb is not None:
            for k, v in metrics.items():
                if isinstance(v, (int, float)):
                    self._tb.add_scalar(k, v, step)

    def close(self) -> None:
        if self._tb is not None:
            self._tb.close()


def read_metrics(run_dir: str | Path) -> list[dict[str, Any]]:
    return read_log(Path(run_dir) / "metrics.jsonl")


def latest_checkpoint(run_dir: str | Path) -> Path | None:
    """The newest complete ``checkpoints/step-N`` (a ``COMPLETE`` marker is written last)."""
    ck = Path(run_dir) / "checkpoints"
    if not ck.exists():
        return None
    done = [p for p in ck.glob("step-*") if (p / "COMPLETE").exists()]
    if not done:
        return None
    return max(done, key=lambda p: int(p.name.split("-")[1]))


# settings that change how a run executes, not what it computes: a resume may change them
_OPERATIONAL = frozenset({"output_dir", "resume", "progress", "threads", "tensorboard", "save_every", "keep_checkpoints",
                          "device", "micro_batch_size", "generation_batch_size", "forward_batch_size"})


def _flatten(d: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in d.items():
        if isinstance(v, dict) and v:
            out.update(_flatten(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def config_changes(run_dir: str | Path, cfg: Any) -> list[str]:
    """``key: old -> new`` for every setting in which ``cfg`` differs from the ``config.yaml`` an
    earlier invocation left in ``run_dir`` (none if there is none). Operational settings
    (threads, progress, micro-batch sizes, checkpoint cadence...), keys only one side has (a
    version that added or dropped a setting), a path spelled another way (relative or
    absolute, from the same working directory) and, when the run directory itself has moved
    (``output_dir`` differs), a path at the same place relative to it (the inputs moved with
    it, as a loop's run directory does) do not count."""
    import yaml

    saved = Path(run_dir) / "config.yaml"
    if not saved.exists():
        return []
    old = _flatten(yaml.safe_load(saved.read_text()) or {})
    new = _flatten(json.loads(json.dumps(to_dict(cfg), default=str)))
    homes = (old.get("output_dir"), new.get("output_dir"))
    moved = homes if all(isinstance(h, str) and h for h in homes) and not _same_setting(*homes) else None
    return [f"{k}: {old[k]!r} -> {new[k]!r}" for k in new
            if k in old and not _same_setting(old[k], new[k], moved) and k.rsplit(".", 1)[-1] not in _OPERATIONAL]


def _same_setting(old: Any, new: Any, moved: tuple[str, str] | None = None) -> bool:
    """Equal values, or two spellings of one path (``runs/x``, ``./runs/x``, its absolute form),
    or, with ``moved`` (the old and new run directories), two paths at the same place relative
    to their run directory (``/a/x/round-0/sft/final`` from ``/a/x/round-1/ppo`` and
    ``/b/x/round-0/sft/final`` from ``/b/x/round-1/ppo``)."""
    if old == new:
        return True
    if not (isinstance(old, str) and isinstance(new, str) and old and new):
        return False
    if Path(old).resolve() == Path(new).resolve():
        return True
    if moved is None:
        return False
    return (os.path.relpath(Path(old).resolve(), Path(moved[0]).resolve())
            == os.path.relpath(Path(new).resolve(), Path(moved[1]).resolve()))


def check_resume(run_dir: str | Path, cfg: Any) -> None:
    """Before a trainer resumes from ``run_dir`` (returns its complete ``final/`` or continues
    from its newest checkpoint): refuse, naming the settings, when the run there was made with
    another config, so that a changed command never silently hands back, or continues, a model
    trained with the old one."""
    run = Path(run_dir)
    complete = (run / "final" / "COMPLETE").exists()
    if not complete and latest_checkpoint(run) is None:
        return
    changes = config_changes(run, cfg)
    if changes:
        state = "a finished run (resuming would return its model as is)" if complete else "a resumable run (resuming would continue it under other settings)"
        raise ValueError(f"{run} holds {state} made with another config: {'; '.join(changes)}. "
                         f"Rerun with the settings it was made with, give another output_dir, or pass resume=false to start over there")


def open_run(run_dir: str | Path, cfg: Any, *, main_process: bool = True) -> Path | None:
    """Where a trainer starts in ``run_dir``: with ``cfg.resume``, refuse a changed config
    (``check_resume``) and return the complete ``final/`` of a finished run (None: train,
    resuming from the newest checkpoint if there is one); with ``resume=false``, clear the
    earlier run (``start_over``, on the main process only) and return None."""
    run = Path(run_dir)
    if not cfg.resume:
        if main_process:
            start_over(run)
        return None
    check_resume(run, cfg)
    final = run / "final"
    return final if (final / "COMPLETE").exists() else None


def open_accelerated_run(cfg: Any) -> tuple[Any, Path, Path | None]:
    """The SFT and reward-model trainers' opening: process settings (``set_up_process``), an
    ``Accelerator``, and ``open_run`` on ``cfg.output_dir`` by the main process while the others
    wait. Returns the accelerator, the run directory and the complete ``final/`` of a finished
    run (None: train)."""
    from instructrl.runtime import set_up_process

    set_up_process(cfg.threads, cfg.progress)
    acc = make_accelerator(cfg.device)
    run = Path(cfg.output_dir)
    finished = open_run(run, cfg, main_process=acc.is_main_process)
    acc.wait_for_everyone()
    if finished is not None:
        acc.print(f"{run} is already complete; final checkpoint: {finished}")
    return acc, run, finished


def make_accelerator(device: str) -> Any:
    """An ``Accelerator`` on the device a trainer's ``device`` setting names: ``auto`` leaves it
    to accelerate (a GPU when torch sees one; under ``accelerate launch`` each process its own),
    ``cpu`` keeps the run on the CPU where there is a GPU, ``cuda[:i]`` one GPU of a
    single-process run. accelerate keeps one device per process: a second trainer in the same
    process asking for another device is an error that says so."""
    import torch
    from accelerate import Accelerator

    from instructrl.runtime import resolve_device

    if device == "auto":
        return Accelerator()
    want = resolve_device(device)  # a device torch cannot see is an error that says so
    if want.type == "cuda":
        if int(os.environ.get("LOCAL_RANK", -1)) != -1 or int(os.environ.get("WORLD_SIZE", 1)) > 1:
            raise ValueError(f"device={device!r} names one device, but this is one of several processes (accelerate launch), "
                             f"each of which takes its own GPU: use device=auto (or device=cpu)")
        if want.index is not None:
            torch.cuda.set_device(want.index)  # accelerate's single-process device is the current one
    elif want.type != "cpu":
        raise ValueError(f"device={device!r}: trainers run on auto | cpu | cuda[:i]")
    clash = f"device={device!r}, but this process already trains on another device (accelerate keeps one per process): " \
            f"run a trainer that asks for another device in a process of its own"
    try:
        acc = Accelerator(cpu=want.type == "cpu")
    except ValueError as e:  # accelerate refuses cpu=True after a GPU run in this process
        if "already been initialized" not in str(e):
            raise
        raise ValueError(clash) from e
    got = torch.device(acc.device)
    if got.type != want.type or (want.index is not None and (got.index if got.index is not None else torch.cuda.current_device()) != want.index):
        raise ValueError(f"{clash} ({got})")
    return acc


def start_over(run_dir: str | Path) -> None:
    """``resume=false``: clear what an earlier run left in ``run_dir`` (checkpoints, final/ and
    the other model folders, TensorBoard events) before training from scratch, so that neither
    its checkpoints (newer step numbers would outlive the new run's in pruning and be resumed
    from) nor its complete final/ (returned as done after a crash) can be mistaken for the new
    run's. Logs, config and provenance are rewritten by the new run."""
    run = Path(run_dir)
    gone = [name for name in ("checkpoints", "final", "best", "value", "tb") if (run / name).exists()]
    for name in gone:
        shutil.rmtree(run / name)
    if gone:
        print(f"resume=false: removed {', '.join(gone)} from {run} (an earlier run's)", flush=True)


def prune_checkpoints(run_dir: str | Path, keep: int, protect: set[Path] | None = None) -> None:
    """Keep the newest ``keep`` complete checkpoints (and any in ``protect``)."""
    ck = Path(run_dir) / "checkpoints"
    if keep <= 0 or not ck.exists():
        return
    steps = sorted((p for p in ck.glob("step-*")), key=lambda p: int(p.name.split("-")[1]))
    complete = [p for p in steps if (p / "COMPLETE").exists()]
    for p in complete[:-keep]:
        if protect and p.resolve() in {q.resolve() for q in protect}:
            continue
        shutil.rmtree(p, ignore_errors=True)
    for p in steps:  # partial checkpoints from a crash mid-save
        if not (p / "COMPLETE").exists():
            shutil.rmtree(p, ignore_errors=True)
