"""The InstructGPT loop (``instructrl run``): the main job.

Round 0: demonstrations -> SFT (with a 10% pretraining mix). Round k >= 1: sample K
responses per prompt from the current policy -> labelers rank -> reward model on all
rankings so far -> PPO-ptx -> evaluation by the held-out panel. Every stage writes under
``runs/<name>/`` and marks itself done, so a killed run resumes where it stopped.
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path
from typing import Any, Callable

from .config import PRESETS, LoopConfig
from .rundir import check_changes, first_stage_using, loop_config_changes, read_timings, status

__all__ = ["LoopConfig", "main", "run", "stages_of", "status"]


def stages_of(cfg: LoopConfig) -> list[tuple[str, Path, Callable[[], Any]]]:
    """(name, directory, action) for every stage, in order."""
    from . import stages as S
    from .evaluate import evaluate_round

    root = cfg.root
    out: list[tuple[str, Path, Callable[[], Any]]] = [("data", root / "data", lambda: S.prepare_data(cfg, root))]
    if cfg.base.pretrain:
        out.append(("base", root / "base", lambda: S.pretrain_base(cfg, root)))
    if cfg.data.ptx_text == "self":
        out.append(("ptx-text", root / "ptx-text", lambda: S.sample_ptx_text(cfg, root)))
    out.append(("round-0/data", root / "round-0" / "data", lambda: S.collect_demonstrations(cfg, root)))
    out.append(("round-0/sft", root / "round-0" / "sft", lambda: S.train_sft(cfg, root)))
    for k in range(1, cfg.rounds + 1):
        r = root / f"round-{k}"
        out.append((f"round-{k}/data", r / "data", lambda k=k: S.collect_rankings(cfg, root, k)))
        out.append((f"round-{k}/rm", r / "rm", lambda k=k: S.train_rm(cfg, root, k)))
        out.append((f"round-{k}/ppo", r / "ppo", lambda k=k: S.train_ppo(cfg, root, k)))
        if cfg.ptx_ablation:
            out.append((f"round-{k}/ppo-noptx", r / "ppo-noptx", lambda k=k: S.train_ppo(cfg, root, k, ptx=False)))
        out.append((f"round-{k}/eval", r / "eval", lambda k=k: evaluate_round(cfg, root, k)))
    return out


def _trains(stage: str) -> bool:
    """A stage that trains a model (its trainer resumes from, or returns, what its directory holds)."""
    return stage == "base" or stage.rsplit("/", 1)[-1] in ("sft", "rm", "ppo", "ppo-noptx")


def run(cfg: LoopConfig, only: str | None = None) -> Path:
    """Run (or resume) the loop; returns the report path."""
    from instructrl.data.io import append_log, write_text_atomic
    from instructrl.runs import write_provenance
    from instructrl.runtime import set_up_process

    from .report import summary_table, write_report, load_rounds
    from .stages import check_stage_configs, is_done, loop_device

    loop_device(cfg)  # a CUDA device torch cannot see is an error now, not at the first sampling stage
    check_stage_configs(cfg)  # a bad sft/rm/ppo override is an error before anything runs
    set_up_process(cfg.threads, cfg.progress)
    root = cfg.root
    stages = stages_of(cfg)
    names = [s[0] for s in stages]
    if only is not None and only not in names:
        raise ValueError(f"--only {only!r}: no such stage; stages: {names}")
    check_changes(root, cfg, stages, only)
    root.mkdir(parents=True, exist_ok=True)
    write_provenance(root, cfg)
    timings_file = root / "timings.json"
    timings = read_timings(timings_file)
    for i, (name, d, action) in enumerate(stages):
        if only is not None and name != only:
            continue
        if is_done(d) and only is None:
            continue
        if only is not None and (d / "STAGE_DONE").exists():
            (d / "STAGE_DONE").unlink()
            if _trains(name) and d.exists():
                # the trainers treat a complete final/ (and any checkpoints) as a finished or
                # resumable run: rerunning a finished stage starts it over, from its inputs
                print(f"{name}: --only reruns a finished stage: its previous outputs in {d} are replaced", flush=True)
                shutil.rmtree(d)
            elif (d / "batch.json").exists():
                # a labeling stage builds its batch again; the earlier one decides its id
                # (stages.labeling_batch): the same content re-attaches, new content is a new job
                (d / "batch.json").replace(d / "previous-batch.json")
        print(f"\n=== [{i + 1}/{len(stages)}] {name} ===", flush=True)
        t = time.time()
        action()
        elapsed = time.time() - t
        # a stage's time as it stands: an --only rerun replaces the earlier run's (a stage
        # killed midway never got here, so there is nothing of it to add); every
        # invocation's time stays in timings-history.jsonl
        timings[name] = elapsed
        write_text_atomic(timings_file, json.dumps(timings, indent=2))
        append_log(root / "timings-history.jsonl", [{"stage": name, "seconds": elapsed, "only": only is not None,
                                                     "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z")}])
    report = write_report(root, cfg.eval.heldout_seed, timings, cfg.labelers)
    print("\n" + summary_table(load_rounds(root)))
    print(f"\nreport: {report}  (total stage time {sum(timings.values()) / 60:.1f} min)")
    return report


def main(argv: list[str]) -> int:
    import argparse

    from instructrl.config import _deep_merge, build, help_text, parse_overrides
    import yaml

    parser = argparse.ArgumentParser(
        prog="instructrl run",
        description="The InstructGPT loop: demonstrations -> SFT -> (rankings -> RM -> PPO-ptx -> eval) x rounds.",
        epilog="config keys:\n" + help_text(LoopConfig),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--preset", default="default", help=f"preset: {sorted(p.stem for p in PRESETS.glob('*.yaml'))}")
    parser.add_argument("--config", "-c", default=None, help="YAML config (applied over the preset)")
    parser.add_argument("--only", default=None, help="rerun this one stage (e.g. round-1/rm) from its inputs: a finished training stage "
                        "starts over, an evaluation re-judges its stored answers, a data stage samples again (new content is a new labeling "
                        "batch, <id>-r2...); later stages are not rerun")
    parser.add_argument("--status", action="store_true", help="show where the run stands (each stage done, started or pending, "
                        "and settings that differ from its config.yaml); runs nothing")
    ns, rest = parser.parse_known_args(argv)
    preset = PRESETS / f"{ns.preset}.yaml"
    if not preset.exists():
        raise ValueError(f"--preset {ns.preset!r}: no such preset; known: {sorted(p.stem for p in PRESETS.glob('*.yaml'))}")
    values: dict[str, Any] = yaml.safe_load(preset.read_text()) or {}
    if ns.config:
        path = Path(ns.config)
        if not path.exists():
            raise FileNotFoundError(f"config file not found: {path}")
        values = _deep_merge(values, yaml.safe_load(path.read_text()) or {})
    values = _deep_merge(values, parse_overrides(rest))
    cfg = build(LoopConfig, values)
    if ns.status:
        print(status(cfg))
        return 0
    run(cfg, only=ns.only)
    return 0
