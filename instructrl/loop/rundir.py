"""A run directory's state across invocations: which stages are done, what each took, and
whether a rerun's settings differ from those its finished stages were made with
(``check_changes``: refused when a finished stage used one; ``status``: shown)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, Callable

from .config import LoopConfig


def read_timings(path: Path) -> dict[str, float]:
    """The stage times so far. They are informational: a file left unreadable (by a version
    that wrote it in place and was killed mid-write) must not stop a run from resuming."""
    if not path.exists():
        return {}
    try:
        return {str(k): float(v) for k, v in json.loads(path.read_text()).items()}
    except (ValueError, AttributeError) as e:
        print(f"warning: {path} is unreadable ({e}); stage times start again", flush=True)
        return {}


# settings of the loop that change how it runs, not what it computes, those that only add
# stages (more rounds, the plain-PPO ablation), and where the run is (a run directory moved or
# copied whole resumes there): a resumed run may change them
_UNSET = object()
_LOOP_FREE = frozenset({"threads", "progress", "device", "labelers_token", "labelers_poll_s", "labelers_deadline_s",
                        "rounds", "ptx_ablation", "name", "runs_dir"})


def first_stage_using(key: str) -> str:
    """The first stage whose output depends on the loop setting ``key`` (dotted): a finished
    run changed there would hand back, or build on, what the old setting made."""
    top, _, sub = key.partition(".")
    if top == "ppo":
        return "round-1/data" if sub == "max_new_tokens" else "round-1/ppo"  # the rankings' samples are PPO's length
    if top == "data" and sub in ("k", "rank_temperature", "rank_prompts"):
        return "round-1/data"
    if top == "data" and sub == "sft_prompts":
        return "round-0/data"
    return {"sft": "round-0/sft", "rm": "round-1/rm", "rm_init": "round-1/rm", "ppo_init": "round-2/ppo",
            "sample_from": "round-2/data", "eval": "round-1/eval", "labelers": "round-0/data"}.get(top, "data")


def _as_number(x: Any) -> Any:
    """A free-form override keeps YAML's reading of a value: ``1e-3`` is a string there
    (YAML 1.1 wants ``1.0e-3``) and the stage config converts it. Compare them as numbers."""
    if isinstance(x, str):
        try:
            return float(x)
        except ValueError:
            return x
    return x


def _stage_settings(cfg: LoopConfig | None, root: Path) -> dict[str, dict[str, Any]]:
    """Each training stage's settings as the loop builds them (its paths and seeds, then the
    user's overrides over the stage's defaults), flattened; round 1 for the RM and PPO. With no
    loop config (an old config.yaml this version cannot read), the stages' bare defaults."""
    from instructrl.config import load_config, to_dict
    from instructrl.ppo import PPOConfig
    from instructrl.reward import RewardConfig
    from instructrl.runs import _flatten
    from instructrl.sft import SFTConfig

    from .stages import ppo_overrides, rm_overrides, sft_overrides

    built = {"sft": (SFTConfig, lambda c: sft_overrides(c, root)), "rm": (RewardConfig, lambda c: rm_overrides(c, root, 1)),
             "ppo": (PPOConfig, lambda c: ppo_overrides(c, root, 1))}
    return {key: _flatten(json.loads(json.dumps(to_dict(load_config(config_type, None, over(cfg) if cfg else {})), default=str)))
            for key, (config_type, over) in built.items()}


def loop_config_changes(root: Path, cfg: LoopConfig) -> list[tuple[str, str]]:
    """(``key: old -> new``, first stage it affects) for each setting in which ``cfg`` differs
    from the ``config.yaml`` an earlier invocation left in ``root``. Unlike a trainer's config,
    the ``sft``/``rm``/``ppo`` overrides are free-form: a key set on one side only is compared
    with what the other side's stage ran with (the value the loop fills in, e.g. PPO's reward
    kind, or the stage's default)."""
    import yaml

    from instructrl.config import build, to_dict
    from instructrl.runs import _OPERATIONAL, _flatten, _same_setting

    saved = root / "config.yaml"
    if not saved.exists():
        return []
    old_values = yaml.safe_load(saved.read_text()) or {}
    old = _flatten(old_values)
    new = _flatten(json.loads(json.dumps(to_dict(cfg), default=str)))
    settings: tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]]] | None = None
    out = []
    for k in sorted(set(old) | set(new)):
        top, _, sub = k.partition(".")
        if top in _LOOP_FREE or k.rsplit(".", 1)[-1] in _OPERATIONAL:
            continue
        a, b = old.get(k, _UNSET), new.get(k, _UNSET)
        if a is _UNSET or b is _UNSET:
            if top not in ("sft", "rm", "ppo") or {} in (a, b):  # a version that added or dropped a loop setting
                continue
            if settings is None:
                try:  # the old run's stages as the loop built them, at this run's paths
                    old_cfg = build(LoopConfig, {**old_values, "runs_dir": cfg.runs_dir, "name": cfg.name})
                except (ValueError, TypeError):
                    old_cfg = None
                settings = (_stage_settings(old_cfg, root), _stage_settings(cfg, root))
            ran = settings[0 if a is _UNSET else 1][top].get(sub, _UNSET)
            if ran is _UNSET:
                continue
            a, b = (ran, b) if a is _UNSET else (a, ran)
            label = f"{k}: {old.get(k, f'(unset) {ran}')!r} -> {new.get(k, f'(unset) {ran}')!r}"
        else:
            label = f"{k}: {a!r} -> {b!r}"
        if not _same_setting(a, b) and _as_number(a) != _as_number(b):
            out.append((label, first_stage_using(k)))
    return out


def check_changes(root: Path, cfg: LoopConfig, stages: list[tuple[str, Path, Callable[[], Any]]], only: str | None) -> None:
    """Resuming under other settings: refuse, naming them, when a finished stage depends on one
    (finished stages are not rerun, so the run would hand back, or build on, what the old
    settings made, under a config.yaml that says otherwise). ``--only`` reruns its stage under
    the new settings on purpose. Changes that are let through are logged in
    ``config-changes.jsonl``, since config.yaml is rewritten."""
    from instructrl.data.io import append_log

    from .stages import is_done

    changes = loop_config_changes(root, cfg)
    if not changes:
        return
    where = {name: d for name, d, _ in stages}
    stale = [(c, st) for c, st in changes if st in where and is_done(where[st]) and st != only]
    if stale and only is None:
        listed = "; ".join(f"{c} (used from {st}, finished)" for c, st in stale)
        raise ValueError(f"{root} holds a run made with other settings that finished stages depend on: {listed}. Finished "
                         f"stages are not rerun: rerun with the settings in {root / 'config.yaml'}, give another name=, or "
                         f"rerun a stage under the new settings with --only {stale[0][1]} (later stages are not rerun)")
    if only is not None:
        print(f"--only {only}: the run's settings changed: {'; '.join(c for c, _ in changes)}", flush=True)
    append_log(root / "config-changes.jsonl", [{"time": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "only": only,
                                                "changes": [c for c, _ in changes]}])


def status(cfg: LoopConfig) -> str:
    """Where the run in ``cfg.root`` stands, without running anything: each stage done (with
    its time), started (a training stage's newest checkpoint, a labeling batch sent) or
    pending, and the settings that differ from the run's config.yaml."""
    from instructrl.runs import latest_checkpoint

    from . import stages_of
    from .stages import is_done

    root = cfg.root
    if not (root / "config.yaml").exists():
        return f"{root}: no run there yet"
    timings = read_timings(root / "timings.json")
    lines = [f"{root}:"]
    for i, (name, d, _) in enumerate(stages_of(cfg)):
        if is_done(d):
            state = f"done ({timings[name]:.0f} s)" if name in timings else "done"
        elif latest_checkpoint(d) is not None:
            state = f"started: resumes from {latest_checkpoint(d).name}"
        elif (d / "batch.json").exists():
            state = "started: batch sent to the labelers"
        elif d.exists():
            state = "started"
        else:
            state = "pending"
        lines.append(f"  [{i + 1:2d}] {name:<22} {state}")
    changes = loop_config_changes(root, cfg)
    if changes:
        lines.append("settings that differ from its config.yaml (first stage that uses each):")
        lines += [f"  {c}  ({st})" for c, st in changes]
    return "\n".join(lines)
