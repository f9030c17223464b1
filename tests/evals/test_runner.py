"""``instructrl eval`` end to end: fakes through the Python API (every output file, the
cache, win rate against shipped predictions) and one CLI smoke run on the tiny model."""

from __future__ import annotations

import json

import pytest

from evalfakes import SHARED, FakeModel
from instructrl.config import load_config
from instructrl.evals import EvalConfig, evaluate, main
from instructrl.evals.judges import RewardJudge
from instructrl.evals.runner import Overrides
from instructrl.runtime import resolve_device

LLS = {"t": -1.0, "f": -2.0}


def _files(tmp_path):
    mc = tmp_path / "mc.json"
    mc.write_text(json.dumps([{"question": "Q?", "mc1_targets": {"t": 1, "f": 0}, "mc2_targets": {"t": 1, "f": 0}}]))
    prompts = tmp_path / "prompts.jsonl"
    prompts.write_text("\n".join(json.dumps({"id": f"p{i}", "text": f"Question {i}?"}) for i in range(3)) + "\n")
    tox = tmp_path / "tox.jsonl"
    tox.write_text(json.dumps({"id": 0, "prompt": "He said"}) + "\n")
    return mc, prompts, tox


class CountingScorer:
    name = "count"

    def score(self, texts):
        return [min(1.0, len(t) / 100) for t in texts]


def test_evaluate_with_fakes_writes_every_output(tmp_path):
    mc, prompts, tox = _files(tmp_path)
    out = tmp_path / "out"
    cfg = load_config(EvalConfig, overrides={
        "checkpoints": ["short=x", "long=y"], "evaluators": ["truthfulqa_mc", "toxicity", "winrate", "perplexity"],
        "output_dir": str(out), "truthfulqa": {"mc_path": str(mc)}, "toxicity": {"prompts": str(tox)},
        "winrate": {"prompts": str(prompts), "judge": "reward", "reward_model": "unused-because-injected"},
        "alignment_tax": {"heldout_text": str(prompts.with_suffix(".txt"))},
    })
    prompts.with_suffix(".txt").write_text("one two three\n\nfour five")
    models = {"short": FakeModel("short", lambda t: "ok", LLS), "long": FakeModel("long", lambda t: "a much longer answer", LLS)}
    judge = RewardJudge(lambda p, r: [len(x) for x in r], name="len")
    ov = Overrides(models=models, judge=judge, toxicity_scorer=CountingScorer())
    res = evaluate(cfg, ov, echo=False)

    m = res["metrics"]
    assert m["long"]["winrate/vs_short"] == 1.0 and "winrate/vs_short" not in m["short"]
    assert m["short"]["truthfulqa/mc1"] == 1.0
    assert m["short"]["toxicity/none/mean"] == pytest.approx(0.02)
    assert m["short"]["alignment_tax/perplexity"] == pytest.approx(2.718281828 ** 2)
    lo, hi = res["intervals"]["long"]["winrate/vs_short"]
    assert lo < 1.0 == hi
    for f in ("eval.json", "eval.md", "config.yaml", "provenance.json", "plots/winrate_vs_short.png",
              "examples/winrate/long.jsonl", "examples/toxicity/short.jsonl", "examples/truthfulqa_mc/long.jsonl"):
        assert (out / f).exists(), f
    rec = json.loads((out / "examples/winrate/long.jsonl").read_text().splitlines()[0])
    assert rec["response"] == "a much longer answer" and rec["baseline_response"] == "ok" and rec["score_a"] == 1.0
    saved = json.loads((out / "eval.json").read_text())
    assert saved["metrics"] == json.loads(json.dumps(m))
    assert cfg.device == "auto" and saved["config"]["device"] == str(resolve_device("auto"))  # where it ran
    assert "![winrate/vs_short](plots/winrate_vs_short.png)" in (out / "eval.md").read_text()

    # Re-scoring with another judge reuses every cached generation.
    n_calls = {k: len(v.generate_calls) for k, v in models.items()}
    flipped = RewardJudge(lambda p, r: [-len(x) for x in r], name="short-is-better")
    res2 = evaluate(cfg, Overrides(models=models, judge=flipped, toxicity_scorer=CountingScorer()), echo=False)
    assert res2["metrics"]["long"]["winrate/vs_short"] == 0.0
    assert {k: len(v.generate_calls) for k, v in models.items()} == n_calls


@pytest.mark.skipif(not (SHARED / "self-instruct").exists(), reason="shared datasets not present")
def test_win_rate_between_shipped_predictions(tmp_path):
    pred = SHARED / "self-instruct" / "predictions"
    cfg = load_config(EvalConfig, overrides={
        "checkpoints": [f"predictions:{pred / 'davinci_predictions.jsonl.gz'}", f"predictions:{pred / 'text-davinci-001_predictions.jsonl.gz'}"],
        "evaluators": ["winrate", "truthfulqa_mc"], "output_dir": str(tmp_path), "limit": 20, "plots": False,
        "winrate": {"prompts": str(SHARED / "self-instruct" / "user_oriented_instructions.jsonl"), "reward_model": "fake"},
    })
    judge = RewardJudge(lambda p, r: [len(x) for x in r], name="len")
    res = evaluate(cfg, Overrides(judge=judge), echo=False)
    assert res["checkpoints"] == ["davinci", "text-davinci-001"]
    assert res["winrate"]["text-davinci-001"]["n"] == 20
    assert "skipped predictions-only" in res["notes"]["truthfulqa_mc"]


@pytest.mark.parametrize("overrides,match", [
    ({"evaluators": ["bleu"], "checkpoints": ["tiny"]}, "unknown evaluator"),
    ({"evaluators": ["toxicity"], "checkpoints": ["tiny"]}, "needs toxicity.prompts"),
    ({"evaluators": ["truthfulqa_mc"]}, "need checkpoints"),
    ({"evaluators": ["winrate"], "checkpoints": ["a", "b"], "winrate": {"prompts": "p"}}, "needs winrate.reward_model"),
    ({"evaluators": ["winrate"], "checkpoints": ["a"], "winrate": {"prompts": "p", "reward_model": "r"}}, "at least 2"),
    ({"checkpoints": ["tiny"], "toxicity": {"instructions": ["polite"]}}, "toxicity.instructions"),
    ({"checkpoints": ["tiny"], "winrate": {"swap": "sometimes"}}, "'sometimes' is not one of"),
    ({"checkpoints": ["tiny"], "batch_size": 0}, "batch_size must be > 0"),
])
def test_config_errors_name_the_bad_value(overrides, match):
    with pytest.raises(ValueError, match=match):
        load_config(EvalConfig, overrides=overrides)


def test_cli_smoke_on_the_tiny_model(tmp_path, capsys):
    mc, _, _ = _files(tmp_path)
    text = tmp_path / "held.txt"
    text.write_text("The cat sat on the mat.\n\nA second document here.")
    rc = main([f"checkpoints=a=tiny,b=tiny:seed=1", "evaluators=truthfulqa_mc,perplexity", f"output_dir={tmp_path / 'o'}",
               f"truthfulqa.mc_path={mc}", f"alignment_tax.heldout_text={text}", "plots=false"])
    assert rc == 0
    res = json.loads((tmp_path / "o" / "eval.json").read_text())
    for name in ("a", "b"):
        assert 0.0 <= res["metrics"][name]["truthfulqa/mc2"] <= 1.0
        assert res["metrics"][name]["alignment_tax/perplexity"] > 1.0
    assert res["metrics"]["a"]["alignment_tax/perplexity"] != res["metrics"]["b"]["alignment_tax/perplexity"]
    assert "truthfulqa/mc2" in capsys.readouterr().out


def test_panel_judge_and_detector_on_generated_task_prompts(tmp_path):
    """judge=panel and detector=panel from the config, on instructrl.tasks prompts."""
    from instructrl.tasks import demonstrate

    cfg = load_config(EvalConfig, overrides={
        "checkpoints": ["base=x", "good=y"], "evaluators": ["winrate", "hallucination"], "output_dir": str(tmp_path),
        "plots": False, "winrate": {"prompts": "generated:16@3", "judge": "panel"},
        "hallucination": {"prompts": "generated:200@3", "detector": "panel"},
    })
    from instructrl.evals.winrate import generated_prompts

    by_text = {p.as_text(): p for spec in ("generated:16@3", "generated:200@3") for p in generated_prompts(spec)}
    good = FakeModel("good", lambda t: demonstrate(by_text[t[len("<user>"):-len("<assistant>")]]))
    base = FakeModel("base", lambda t: "I am not sure.")
    res = evaluate(cfg, Overrides(models={"base": base, "good": good}), echo=False)
    assert res["winrate"]["good"]["win_rate"] > 0.8
    assert res["metrics"]["good"]["hallucination/rate"] < 0.2
    assert "panel:0" in res["notes"]["winrate"]
