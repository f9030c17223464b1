"""``runs/<name>/report.md``: tables, PNG plots and side-by-side samples of a loop run."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from instructrl.data import Prompt, read_jsonl
from instructrl.data.io import read_log, save_figure, write_text_atomic
from instructrl.runs import read_metrics

METRICS = ("likert", "fails_to_follow", "constraint_satisfied", "hallucination", "inappropriate")


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def load_rounds(root: Path) -> list[dict[str, Any]]:
    out = []
    for d in sorted(root.glob("round-*/eval/eval.json"), key=lambda p: int(p.parent.parent.name.split("-")[1])):
        out.append(json.loads(d.read_text()))
    return out


def overoptimization(root: Path, k: int, heldout_seed: int) -> list[dict[str, float]]:
    """RM score vs held-out panel Likert of the validation samples PPO logged at each
    evaluation: if the RM score keeps rising while the panel's judgement falls, the policy
    is over-optimising the reward model."""
    from instructrl.labelers import heldout_panel
    from instructrl.tasks.grader import has_spec

    path = root / f"round-{k}" / "ppo" / "samples.jsonl"
    if not path.exists():
        return []
    by_text = {p.as_text(): p for p in read_jsonl(root / "data" / "valid.jsonl", Prompt).records}
    panel = heldout_panel(seed=heldout_seed)
    per_iter: dict[int, list[tuple[float, float]]] = {}
    for i, row in enumerate(read_log(path)):
        p = by_text.get(row["prompt"])
        if p is None or not has_spec(p):  # the gold panel judges only prompts with a spec
            continue
        lab = panel.labelers[i % len(panel.labelers)]
        per_iter.setdefault(row["iteration"], []).append((row["score"], lab.rate(p, row["response"]).likert))
    return [
        {"iteration": it, "rm_score": sum(s for s, _ in v) / len(v), "panel_likert": sum(l for _, l in v) / len(v), "n": len(v)}
        for it, v in sorted(per_iter.items())
    ]


def _save(fig: Any, out: Path) -> None:
    """Save a PNG atomically (a reader, or a rerun after a kill, never sees half a plot)."""
    fig.tight_layout()
    save_figure(fig, out, dpi=110)
    _plt().close(fig)


def _plot_curves(root: Path, rounds: list[int], out: Path) -> None:
    plt = _plt()
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.5))
    for k in rounds:
        rows = read_metrics(root / f"round-{k}" / "ppo")
        it = [r["step"] for r in rows if "reward/score_mean" in r]
        axes[0].plot(it, [r["reward/score_mean"] for r in rows if "reward/score_mean" in r], label=f"round {k}")
        axes[1].plot([r["step"] for r in rows if "ppo/kl_to_ref" in r], [r["ppo/kl_to_ref"] for r in rows if "ppo/kl_to_ref" in r], label=f"round {k}")
    axes[0].set(title="RM score (normalised) during PPO", xlabel="iteration")
    axes[1].set(title="KL to reference (nats / episode)", xlabel="iteration")
    for a in axes:
        a.legend()
    _save(fig, out)


def _plot_winrate(rounds: list[dict[str, Any]], out: Path) -> None:
    plt = _plt()
    ks = [r["round"] for r in rounds if "ppo" in r["policies"]]
    wr = [r["policies"]["ppo"]["win_rate"] for r in rounds if "ppo" in r["policies"]]
    fig, ax = plt.subplots(figsize=(5, 3.5))
    ax.bar([str(k) for k in ks], [w["win_rate"] for w in wr], yerr=[[w["win_rate"] - w["ci_low"] for w in wr], [w["ci_high"] - w["win_rate"] for w in wr]], capsize=4)
    ax.axhline(0.5, color="grey", ls="--")
    ax.set(title="Win rate of PPO-ptx vs SFT (held-out panel, 95% CI)", xlabel="round", ylim=(0, 1))
    _save(fig, out)


def _plot_metadata(rounds: list[dict[str, Any]], out: Path) -> None:
    plt = _plt()
    names = ["SFT"] + [f"round {r['round']}" for r in rounds if "ppo" in r["policies"]]
    rows = [rounds[-1]["policies"]["sft"]] + [r["policies"]["ppo"] for r in rounds if "ppo" in r["policies"]]
    keys = METRICS[1:]
    fig, ax = plt.subplots(figsize=(8, 3.5))
    w = 0.8 / len(rows)
    for i, (n, row) in enumerate(zip(names, rows)):
        ax.bar([j + i * w for j in range(len(keys))], [row.get(k, 0) for k in keys], width=w, label=n)
    ax.set_xticks([j + 0.4 - w / 2 for j in range(len(keys))], [k.replace("_", " ") for k in keys])
    ax.set(title="Held-out panel metadata rates", ylim=(0, 1))
    ax.legend()
    _save(fig, out)


def _plot_overopt(curves: dict[int, list[dict[str, float]]], out: Path) -> None:
    plt = _plt()
    fig, ax = plt.subplots(figsize=(5, 3.5))
    for k, c in curves.items():
        if c:
            ax.plot([x["rm_score"] for x in c], [x["panel_likert"] for x in c], marker="o", label=f"round {k}")
    ax.set(title="Over-optimisation: RM score vs held-out panel", xlabel="RM score of validation samples", ylabel="held-out Likert")
    ax.legend()
    _save(fig, out)


def _fmt(x: float | None) -> str:
    return "n/a" if x is None or x != x else f"{x:.3f}"


def _json_or_empty(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text()) if path.exists() else {}


def summary_table(rounds: list[dict[str, Any]]) -> str:
    if not rounds:  # rounds=0, or no round evaluated yet: there is nothing to judge SFT against
        return "No round evaluated yet (rounds=0 trains the SFT policy only): nothing to compare with SFT."
    method = next((row["win_rate"].get("interval") for r in rounds for row in r["policies"].values() if row.get("win_rate")), None)
    ci = f"95% CI, {method}" if method else "95% CI"
    lines = [f"| policy | win rate vs SFT ({ci}; W/T/L) | Likert | fails to follow | constraints met (95% CI) | hallucination (95% CI) | closed-domain: fails to follow / hallucination when it does the task | inappropriate | KL to SFT | RM acc. on fresh pairs | held-out ptx loss (vs SFT) |", "|---|---|---|---|---|---|---|---|---|---|---|"]

    def rate(row: dict[str, Any], key: str) -> str:  # "0.438 (0.349-0.531)" where an interval exists
        lo_hi = row.get(f"{key}_ci")
        if not lo_hi or lo_hi[0] != lo_hi[0]:
            return _fmt(row.get(key))
        return f"{_fmt(row.get(key))} ({lo_hi[0]:.2f}-{lo_hi[1]:.2f})"

    entries = [("SFT", rounds[-1]["policies"]["sft"])] if rounds else []
    for r in rounds:
        for name, row in r["policies"].items():
            if name != "sft":
                entries.append((f"round {r['round']} {name}", row))
    for label, row in entries:
        wr = row.get("win_rate")
        wrs = f"{wr['win_rate']:.3f} ({wr['ci_low']:.3f}-{wr['ci_high']:.3f}); {wr['wins']}/{wr['ties']}/{wr['losses']}" if wr else "-"
        lines.append(
            f"| {label} | {wrs} | {_fmt(row.get('likert'))} | {_fmt(row.get('fails_to_follow'))} | {rate(row, 'constraint_satisfied')} | "
            f"{rate(row, 'hallucination')} | {_fmt(row.get('closed_fails_to_follow'))} / {_fmt(row.get('hallucination_attempted'))} | {_fmt(row.get('inappropriate'))} | {_fmt(row.get('kl_to_sft'))} | {_fmt(row.get('rm_accuracy'))} | "
            f"{_fmt(row.get('heldout_ptx_loss'))} ({100 * row.get('heldout_ptx_loss_vs_sft', 0):+.1f}%) |"
        )
    ref = next((r["reference"] for r in rounds if r.get("reference")), None)
    if ref:  # what the same panel gives answers SFT cannot beat, to read the win rates above by
        wr = ref["demonstrator"]
        line = (f"\nReference, on the {ref['n_prompts']} test prompts the demonstrator answers: its answers against SFT's win "
                f"{wr['win_rate']:.3f} ({wr['ci_low']:.3f}-{wr['ci_high']:.3f}), the most this panel shows")
        if ref.get("best_of"):
            b = ref["best_of"]
            line += (f"; the best of SFT's answer and {ref['best_of_n']} of its T=1 samples, picked by the grader, "
                     f"{b['win_rate']:.3f} ({b['ci_low']:.3f}-{b['ci_high']:.3f})")
        lines.append(line + ".")
    for r in rounds:  # rejection sampling with the round's RM: what PPO has to beat to be worth it
        b = r.get("rm_best_of")
        if b:
            wr, ppo = b["win_rate"], r["policies"].get("ppo", {}).get("win_rate")
            lines.append(f"\nRound {r['round']}'s RM picking among the same {b['n'] + 1} candidates (best-of-{b['n'] + 1} rejection sampling, "
                         f"{b['n_prompts']} prompts): {wr['win_rate']:.3f} ({wr['ci_low']:.3f}-{wr['ci_high']:.3f}) against SFT, "
                         f"SFT's own answer kept on {b['greedy_share']:.0%}" + (f"; its PPO policy {ppo['win_rate']:.3f} on all test prompts." if ppo else "."))
    for r in rounds:  # where the win rate comes from: the answers PPO changed, and whether the grader finds them better
        c = r["policies"].get("ppo", {}).get("changed_answers")
        if c and c["n_changed"]:
            line = (f"\nRound {r['round']}'s policy gives SFT's own answer on {c['same_share']:.0%} of the test prompts (ties by "
                    f"construction); on the other {c['n_changed']} it wins {c['changed_win_rate']:.3f}")
            g = c.get("gold")
            if g:
                line += ("; the grader rates those answers " + ", ".join(
                    f"{name} than SFT's on {g[name]['share']:.0%} (panel win rate {g[name]['win_rate']:.2f})"
                    if name != "equal" else f"equal on {g[name]['share']:.0%} ({g[name]['win_rate']:.2f})"
                    for name in ("better", "equal", "worse")))
            lines.append(line + ".")
    for r in rounds:  # does iteration pay? each round against the one before, head to head
        wr = r["policies"].get("ppo", {}).get("win_rate_vs_previous")
        if wr:
            lines.append(f"\nRound {r['round']} vs round {wr['previous_round']}, head to head: win rate {wr['win_rate']:.3f} "
                         f"({wr['ci_low']:.3f}-{wr['ci_high']:.3f}); {wr['wins']}/{wr['ties']}/{wr['losses']}")
    return "\n".join(lines)


def spec_section(rounds: list[dict[str, Any]]) -> str:
    """Task done per family and constraints met per type, SFT against the last round's
    policy, from the spec checks (no labeler noise): where the policy gained and lost."""
    last = next((r for r in reversed(rounds) if "ppo" in r["policies"]), None)
    if last is None:
        return ""
    sft, pol = last["policies"]["sft"].get("by_spec"), last["policies"]["ppo"].get("by_spec")
    if not sft or not pol or not sft["task_done"]:
        return ""
    k = last["round"]
    out = [f"## Where round {k} gained and lost (spec checks, no labeler noise)\n"]
    for key, name, count, metric in (("task_done", "task family", "prompts", "does the task"),
                                     ("constraint_met", "constraint", "instances", "met")):
        out.append(f"| {name} | {count} | {metric}: SFT | round {k} | change |\n|---|---|---|---|---|")
        rows = sorted(sft[key].items(), key=lambda kv: (-kv[1][0], kv[0]))
        for item, (n, a) in rows:
            b = pol[key].get(item, [n, float("nan")])[1]
            out.append(f"| {item} | {n:.0f} | {a:.2f} | {b:.2f} | {b - a:+.2f} |")
        out.append("")
    return "\n".join(out)


def reward_section(root: Path, rounds: list[dict[str, Any]]) -> str:
    """Per round: the rankings collected so far (what the RM trains on, less the ~10% of
    prompts it holds out), its accuracy on those held-out rankings, its accuracy on the
    evaluation's fresh comparisons (pairs PPO chose for their RM score, so a drop from the
    first to the second is over-optimisation as much as a weak RM), and the training
    labelers' agreement."""
    lines = []
    for r in rounds:
        k = r["round"]
        if k < 1:
            continue
        rd = root / f"round-{k}"
        rm_eval = _json_or_empty(rd / "rm" / "eval.json")
        labeling = _json_or_empty(rd / "data" / "labeling.json")
        trained_on = rd / "rm-data" / "rankings.jsonl"
        n_train = sum(1 for line in trained_on.read_text().splitlines() if line.strip()) if trained_on.exists() else None
        ppo = r["policies"].get("ppo", {})
        agreement = (labeling.get("agreement") or {}).get("agreement")
        held = rm_eval.get("rm/valid_accuracy")
        held_n = rm_eval.get("rm/valid_n_pairs")
        fresh, fresh_n = ppo.get("rm_accuracy"), ppo.get("rm_n")
        lines.append(
            f"| {k} | {n_train if n_train is not None else 'n/a'} | {_fmt(held)}"
            f"{f' ({held_n:.0f} pairs)' if held_n else ''} | {_fmt(fresh)}{f' ({fresh_n:.0f} pairs)' if fresh_n else ''} | "
            f"{_fmt(agreement)} |"
        )
    if not lines:
        return ""
    head = ("## Reward models and labelers\n\n"
            "| round | rankings so far | RM accuracy, held-out rankings | RM accuracy, fresh comparisons "
            "(policy vs SFT, held-out panel) | training labelers' agreement |\n|---|---|---|---|---|")
    note = ("\nHeld-out rankings: the RM's own prompt-hash validation split of the rankings so far. "
            "Fresh comparisons: the round's policy against SFT, judged by the held-out panel, ties left out. PPO chose the policy's answers for their RM score, so the RM's errors are over-represented "
            "there: accuracy well below the held-out rankings' signals reward over-optimisation.\n")
    return head + "\n" + "\n".join(lines) + "\n" + note


def samples_section(root: Path, k: int, n: int = 6) -> str:
    d = root / f"round-{k}" / "eval"
    if not (d / "responses-ppo.jsonl").exists():
        return ""
    prompts = {p.id: p for p in read_jsonl(root / "data" / "test.jsonl", Prompt).records}
    sft = [json.loads(l) for l in (d / "responses-sft.jsonl").read_text().splitlines()][:n]
    ppo = [json.loads(l) for l in (d / "responses-ppo.jsonl").read_text().splitlines()][:n]
    out = [f"## Samples: SFT vs round {k} policy (same test prompts)\n"]
    for a, b in zip(sft, ppo):
        p = prompts[a["prompt_id"]]
        out.append(f"**Prompt** ({p.category}): {p.as_text()}\n\n- SFT: {a['response']!r}\n- PPO-ptx: {b['response']!r}\n")
    return "\n".join(out)


def write_report(root: Path, heldout_seed: int, timings: dict[str, float], labelers: str = "simulated") -> Path:
    rounds = load_rounds(root)
    ks = [r["round"] for r in rounds if r["round"] >= 1]
    judge = "the held-out simulated panel" if labelers == "simulated" else f"held-out labelers of the labeling app at {labelers}"
    parts = [f"# instructrl loop report: {root.name}\n", f"Judged by {judge} on test prompts from held-out users.\n"]
    parts.append(summary_table(rounds) + "\n")
    if rounds:
        sft = rounds[-1]["policies"]["sft"]
        parts.append(f"Win rate and Likert over {rounds[-1]['n_prompts']} test prompts; constraints over the "
                     f"{sft.get('n_constrained', float('nan')):.0f} of them with explicit constraints; hallucination over "
                     f"{sft.get('n_closed_domain', float('nan')):.0f} closed-domain prompts (those among the test "
                     f"prompts and {rounds[-1].get('n_closed_extra', 0)} extra, `data.closed_domain_test`).\n")
    if ks:
        _plot_curves(root, ks, root / "ppo_curves.png")
        _plot_winrate(rounds, root / "winrate.png")
        _plot_metadata(rounds, root / "metadata.png")
        curves = {k: overoptimization(root, k, heldout_seed) for k in ks}
        write_text_atomic(root / "overoptimization.json", json.dumps(curves, indent=2))
        parts += ["![win rate](winrate.png)\n", "![metadata](metadata.png)\n", "![PPO curves](ppo_curves.png)\n"]
        if any(curves.values()):
            _plot_overopt(curves, root / "overoptimization.png")
            parts.append("![over-optimisation](overoptimization.png)\n")
        else:  # the curve needs the simulated panel's gold judgement, which needs prompts with a spec
            parts.append("No over-optimisation curve: none of the validation prompts has a spec for the simulated panel to judge.\n")
        parts.append(reward_section(root, rounds))
        parts.append(spec_section(rounds))
        parts.append(samples_section(root, ks[-1]))
    if timings:
        parts.append("## Wall-clock per stage (s)\n\n" + "\n".join(f"- {k}: {v:.0f}" for k, v in timings.items()) + "\n")
    out = root / "report.md"
    write_text_atomic(out, "\n".join(parts))
    return out
