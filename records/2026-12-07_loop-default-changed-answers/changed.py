"""Decompose a default-preset run's win rates against SFT: the test prompts where the round's
policy gives SFT's own greedy answer (a tie by construction) and those where its answer
differs, with the panel's win rate and the grader's gold quality on each; the win rate the
changed answers would need for 0.75 overall. Usage: python changed.py RUN_DIR [RUN_DIR ...]"""
import gzip
import json
import sys
from collections import Counter
from pathlib import Path

from instructrl.data import Prompt
from instructrl.tasks.grader import grade


def text(p):
    p = Path(p)
    return p.read_text() if p.exists() else gzip.decompress(Path(f"{p}.gz").read_bytes()).decode()


def rows(p):
    return [json.loads(line) for line in text(p).splitlines() if line.strip()]


def mean(xs):
    xs = list(xs)
    return sum(xs) / len(xs) if xs else float("nan")


for arg in sys.argv[1:]:
    root = Path(arg)
    prompts = {r["id"]: Prompt.from_dict(r) for r in rows(root / "data" / "test.jsonl")}
    print(f"== {root}")
    for k in (1, 2):
        d = root / f"round-{k}" / "eval"
        if not any((d / f"winrate-ppo.jsonl{ext}").exists() for ext in ("", ".gz")):
            continue
        ppo = {r["prompt_id"]: r["response"] for r in rows(d / "responses-ppo.jsonl")}
        sft = {r["prompt_id"]: r["response"] for r in rows(d / "responses-sft.jsonl")}
        wr = rows(d / "winrate-ppo.jsonl")
        same = [r for r in wr if ppo[r["prompt_id"]].strip() == sft[r["prompt_id"]].strip()]
        diff = [r for r in wr if ppo[r["prompt_id"]].strip() != sft[r["prompt_id"]].strip()]
        f = len(same) / len(wr)
        need = (0.75 - 0.5 * f) / (1 - f)
        dist = Counter(r["score_a"] for r in diff)
        gq = [(grade(prompts[r["prompt_id"]], ppo[r["prompt_id"]]).quality, grade(prompts[r["prompt_id"]], sft[r["prompt_id"]]).quality) for r in diff]
        better = sum(a > b + 1e-9 for a, b in gq) / len(gq)
        worse = sum(a < b - 1e-9 for a, b in gq) / len(gq)
        by = {"better": [], "equal": [], "worse": []}
        for r, (a, b) in zip(diff, gq):
            by["better" if a > b + 1e-9 else "worse" if a < b - 1e-9 else "equal"].append(r["score_a"])
        words = [(len(ppo[r["prompt_id"]].split()), len(sft[r["prompt_id"]].split())) for r in diff]
        print(f"round {k}: {len(wr)} prompts, overall {mean(r['score_a'] for r in wr):.3f}; same greedy answer as SFT on {len(same)} ({f:.2f}); "
              f"changed on {len(diff)}: panel win rate {mean(r['score_a'] for r in diff):.3f} "
              f"(scores 1/.75/.5/.25/0: {dist[1.0]}/{dist[0.75]}/{dist[0.5]}/{dist[0.25]}/{dist[0.0]}); "
              f"gold quality {mean(a for a, _ in gq):.3f} vs SFT {mean(b for _, b in gq):.3f}, better on {better:.2f}, worse on {worse:.2f}, "
              f"equal on {1 - better - worse:.2f}; 0.75 overall would need {need:.3f} on the changed answers")
        print("    panel win rate on the changed answers the grader rates " + ", ".join(
            f"{name} ({len(v)}): {mean(v):.3f}" for name, v in by.items())
              + f"; words per changed answer {mean(a for a, _ in words):.1f} vs SFT's {mean(b for _, b in words):.1f}")
