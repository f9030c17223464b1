"""Round k against round k-1, head to head: the held-out panel prefers the better answers,
and round k-1's stored answers are used only while they are its policy's current ones."""

import json

from instructrl.config import build
from instructrl.data import write_jsonl
from instructrl.loop import LoopConfig
from instructrl.loop.evaluate import _generation_key, _vs_previous
from instructrl.tasks import demonstrate, generate_prompts


def _setup(tmp_path, previous_answers):
    cfg = build(LoopConfig, {"runs_dir": str(tmp_path), "name": "h2h"})
    root = cfg.root
    prompts = generate_prompts(40, seed=3)
    policy = root / "round-1" / "ppo" / "final"
    policy.mkdir(parents=True)
    d = root / "round-1" / "eval"
    write_jsonl(d / "responses-ppo.jsonl", [{"prompt_id": p.id, "response": t} for p, t in zip(prompts, previous_answers(prompts))])
    (d / "responses-ppo.key.json").write_text(json.dumps(_generation_key(cfg, policy, prompts)))
    (root / "round-2" / "eval").mkdir(parents=True)
    return cfg, root, prompts


def test_head_to_head_prefers_the_better_round(tmp_path):
    good = lambda ps: [demonstrate(p, seed=0) for p in ps]
    bad = lambda ps: ["I do not know." for _ in ps]
    cfg, root, prompts = _setup(tmp_path / "a", bad)
    up = _vs_previous(cfg, root, 2, prompts, good(prompts))
    assert up["previous_round"] == 1 and up["n"] == 40 and up["win_rate"] > 0.8
    assert len((root / "round-2" / "eval" / "winrate-ppo-vs-previous.jsonl").read_text().splitlines()) == 40
    cfg, root, prompts = _setup(tmp_path / "b", good)
    assert _vs_previous(cfg, root, 2, prompts, bad(prompts))["win_rate"] < 0.2
    # round 1's answers were read, not generated (there are no weights to generate with)
    assert (root / "round-2" / "eval" / "responses-ppo-round-1.jsonl").read_text() == (root / "round-1" / "eval" / "responses-ppo.jsonl").read_text()
