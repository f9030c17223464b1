"""Held-out metrics of a reward model on rankings (method doc §2, §7). Pure python + numpy.

Over every untied pair (w, l) of every ranking:
- accuracy: mean of [r_w > r_l] (+0.5 when equal), overall, by K and by prompt category;
- margin: mean r_w - r_l;
- log loss: mean -log σ(r_w - r_l) over pairs (the paper reports validation log loss);
- calibration: pairs oriented by response index (i < j), predicted P(i beats j) =
  σ(r_i - r_j) binned against the observed frequency; ``ece`` is the bin-weighted gap.
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from pathlib import Path
from typing import Sequence

import numpy as np

from instructrl.data.io import save_figure, write_text_atomic


def _log_sigmoid(x: float) -> float:
    return -math.log1p(math.exp(-x)) if x >= 0 else x - math.log1p(math.exp(x))


def ranking_metrics(rewards: Sequence[Sequence[float]], ranks: Sequence[Sequence[int]], categories: Sequence[str | None] | None = None) -> dict[str, float]:
    """``rewards[g][i]``, ``ranks[g][i]`` for response i of prompt g -> metrics dict
    (keys: accuracy, margin, log_loss, n_pairs, n_prompts, accuracy_k<K>, accuracy_cat/<c>)."""
    if len(rewards) != len(ranks):
        raise ValueError(f"{len(rewards)} reward lists but {len(ranks)} rankings")
    correct, margins, nll = [], [], []
    by_k: dict[int, list[float]] = defaultdict(list)
    by_cat: dict[str, list[float]] = defaultdict(list)
    for g, (r, rk) in enumerate(zip(rewards, ranks)):
        if len(r) != len(rk):
            raise ValueError(f"prompt {g}: {len(r)} rewards for {len(rk)} ranks")
        cat = (categories[g] if categories is not None else None) or "uncategorized"
        for i in range(len(rk)):
            for j in range(i + 1, len(rk)):
                if rk[i] == rk[j]:
                    continue
                w, l = (i, j) if rk[i] < rk[j] else (j, i)
                d = float(r[w]) - float(r[l])
                c = 1.0 if d > 0 else 0.5 if d == 0 else 0.0
                correct.append(c)
                margins.append(d)
                nll.append(-_log_sigmoid(d))
                by_k[len(rk)].append(c)
                by_cat[cat].append(c)
    if not correct:
        raise ValueError("no untied pairs to evaluate")
    out = {
        "accuracy": float(np.mean(correct)),
        "margin": float(np.mean(margins)),
        "log_loss": float(np.mean(nll)),
        "n_pairs": float(len(correct)),
        "n_prompts": float(len(ranks)),
    }
    out.update({f"accuracy_k{k}": float(np.mean(v)) for k, v in sorted(by_k.items())})
    out.update({f"accuracy_cat/{c}": float(np.mean(v)) for c, v in sorted(by_cat.items())})
    return out


def calibration(rewards: Sequence[Sequence[float]], ranks: Sequence[Sequence[int]], n_bins: int = 10) -> dict[str, list[float] | float]:
    """Reliability table over untied pairs oriented by index: per bin of predicted
    P(i beats j) = σ(r_i - r_j), the mean prediction, the observed win rate and the count."""
    pred, obs = [], []
    for r, rk in zip(rewards, ranks):
        for i in range(len(rk)):
            for j in range(i + 1, len(rk)):
                if rk[i] != rk[j]:
                    pred.append(1.0 / (1.0 + math.exp(-(float(r[i]) - float(r[j])))))
                    obs.append(1.0 if rk[i] < rk[j] else 0.0)
    p, o = np.asarray(pred), np.asarray(obs)
    bins = np.minimum((p * n_bins).astype(int), n_bins - 1)
    mean_pred, frac, count = [], [], []
    for b in range(n_bins):
        sel = bins == b
        count.append(float(sel.sum()))
        mean_pred.append(float(p[sel].mean()) if sel.any() else float("nan"))
        frac.append(float(o[sel].mean()) if sel.any() else float("nan"))
    ece = float(sum(c * abs(mp - f) for c, mp, f in zip(count, mean_pred, frac) if c) / max(1.0, len(p)))
    return {"mean_predicted": mean_pred, "observed": frac, "count": count, "ece": ece}


def write_calibration(table: dict, directory: str | Path, title: str = "reward model calibration") -> Path:
    """``calibration.json`` and ``calibration.png`` (a reliability diagram) in ``directory``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    write_text_atomic(d / "calibration.json", json.dumps(table, indent=2))
    xs = [x for x, c in zip(table["mean_predicted"], table["count"]) if c]
    ys = [y for y, c in zip(table["observed"], table["count"]) if c]
    fig, ax = plt.subplots(figsize=(4.5, 4.5))
    ax.plot([0, 1], [0, 1], "--", color="grey", label="perfect")
    ax.plot(xs, ys, "o-", label=f"RM (ECE {table['ece']:.3f})")
    ax.set_xlabel("predicted P(i preferred to j) = σ(r_i - r_j)")
    ax.set_ylabel("observed frequency")
    ax.set_title(title)
    ax.legend(loc="upper left")
    fig.tight_layout()
    path = d / "calibration.png"
    save_figure(fig, path, dpi=100)
    plt.close(fig)
    return path
