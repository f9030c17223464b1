"""Eval outputs: a terminal table, ``eval.json``, ``eval.md`` with one PNG bar chart per
metric, and per-example JSONL under ``examples/<evaluator>/<checkpoint>.jsonl``."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from instructrl.data.io import save_figure, write_text_atomic


def slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("_") or "x"


def metric_table(metrics: dict[str, dict[str, float]], checkpoints: list[str]) -> tuple[list[str], list[list[str]]]:
    """(header, rows): one row per metric, one column per checkpoint; missing = '-'."""
    names = sorted({m for c in checkpoints for m in metrics.get(c, {})})
    rows = []
    for m in names:
        row = [m]
        for c in checkpoints:
            v = metrics.get(c, {}).get(m)
            row.append("-" if v is None else f"{v:.4g}")
        rows.append(row)
    return ["metric", *checkpoints], rows


def format_table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    line = lambda r: "  ".join(x.ljust(w) for x, w in zip(r, widths))  # noqa: E731
    return "\n".join([line(header), "  ".join("-" * w for w in widths), *(line(r) for r in rows)])


def markdown_table(header: list[str], rows: list[list[str]]) -> str:
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(out)


def write_examples(out_dir: Path, evaluator: str, checkpoint: str, records: list[dict[str, Any]]) -> Path:
    path = out_dir / "examples" / evaluator / f"{slug(checkpoint)}.jsonl"
    write_text_atomic(path, "".join(json.dumps(r, ensure_ascii=False, default=str) + "\n" for r in records))
    return path


def plot_metrics(
    out_dir: Path, metrics: dict[str, dict[str, float]], checkpoints: list[str],
    intervals: dict[str, dict[str, tuple[float, float]]] | None = None,
) -> dict[str, str]:
    """One bar chart per metric (checkpoints side by side, 95% interval as error bars where
    known); returns metric -> relative PNG path."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plot_dir = out_dir / "plots"
    plot_dir.mkdir(parents=True, exist_ok=True)
    out = {}
    names = sorted({m for c in checkpoints for m in metrics.get(c, {})})
    for m in names:
        cs = [c for c in checkpoints if m in metrics.get(c, {})]
        vals = [metrics[c][m] for c in cs]
        fig, ax = plt.subplots(figsize=(max(3.0, 1.2 * len(cs) + 1.5), 3.0))
        yerr = None
        ivs = [(intervals or {}).get(c, {}).get(m) for c in cs]
        if all(iv is not None for iv in ivs):
            yerr = [[max(0.0, v - iv[0]) for v, iv in zip(vals, ivs)], [max(0.0, iv[1] - v) for v, iv in zip(vals, ivs)]]
        ax.bar(range(len(cs)), vals, yerr=yerr, capsize=4, color="#4C72B0")
        ax.set_xticks(range(len(cs)), cs, rotation=20, ha="right", fontsize=8)
        if m.startswith("winrate/vs_"):
            ax.axhline(0.5, ls="--", lw=1, color="gray")  # parity with the baseline
        ax.set_title(m, fontsize=9)
        for i, v in enumerate(vals):
            ax.annotate(f"{v:.3g}", (i, v), ha="center", va="bottom", fontsize=7)
        fig.tight_layout()
        rel = f"plots/{slug(m)}.png"
        save_figure(fig, out_dir / rel, dpi=110)
        plt.close(fig)
        out[m] = rel
    return out


def write_report(out_dir: Path, result: dict[str, Any], *, plots: bool = True) -> str:
    """Write eval.json and eval.md; return the terminal table."""
    checkpoints = result["checkpoints"]
    metrics = result["metrics"]
    header, rows = metric_table(metrics, checkpoints)
    write_text_atomic(out_dir / "eval.json", json.dumps(result, indent=2, default=str))
    md = ["# Evaluation", "", "Checkpoints: " + ", ".join(f"`{c}` ({result['specs'][c]})" for c in checkpoints), ""]
    md += [markdown_table(header, rows), ""]
    for ev, notes in result.get("notes", {}).items():
        md += [f"- **{ev}**: {notes}"]
    md += ["", "Per-example records: `examples/<evaluator>/<checkpoint>.jsonl`.", ""]
    if plots and rows:
        for m, rel in plot_metrics(out_dir, metrics, checkpoints, result.get("intervals")).items():
            md += [f"### {m}", "", f"![{m}]({rel})", ""]
    write_text_atomic(out_dir / "eval.md", "\n".join(md))
    return format_table(header, rows)
