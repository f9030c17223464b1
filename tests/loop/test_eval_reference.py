"""Round 1's reference points: the demonstrator's answers, and an oracle best-of-N of SFT's own
samples, judged against SFT's answers by the held-out simulated panel; and each round's RM
picking among the same samples (rejection sampling)."""

import json

import pytest

from instructrl.config import build
from instructrl.data import Prompt
from instructrl.loop import LoopConfig
from instructrl.loop import evaluate as ev
from instructrl.loop.report import summary_table
from instructrl.tasks import generate_prompts, grade
from instructrl.tasks.demonstrator import try_demonstrate


def _setup(tmp_path, monkeypatch, best_of=0):
    prompts = [p for p in generate_prompts(40, seed=3) if try_demonstrate(p) is not None][:12]
    demos = [try_demonstrate(p) for p in prompts]
    calls = []

    def fake_sample(policy, ps, n, *, max_new_tokens, temperature, seed, device):
        calls.append((len(ps), n, temperature))
        # the demonstration among the samples of every other prompt, off-topic text elsewhere
        return [[f"off topic {j}" for j in range(n - 1)] + ([demos[i]] if i % 2 == 0 else ["lorem"]) for i in range(len(ps))]

    monkeypatch.setattr("instructrl.loop.stages.sample_responses", fake_sample)
    sft = tmp_path / "round-0" / "sft" / "final"
    sft.mkdir(parents=True)
    (sft / "model.safetensors").write_bytes(b"weights")
    cfg = build(LoopConfig, {"runs_dir": str(tmp_path), "eval": {"best_of": best_of}})
    d = tmp_path / "round-1" / "eval"
    d.mkdir(parents=True)
    return cfg, prompts, demos, calls, sft, d


def test_the_demonstrator_beats_weak_answers_and_ties_itself(tmp_path, monkeypatch):
    cfg, prompts, demos, calls, sft, d = _setup(tmp_path, monkeypatch)
    weak = ref = ev.reference_points(cfg, prompts, ["I don't know."] * len(prompts), sft, d)
    assert weak["n_prompts"] == len(prompts) and "best_of" not in weak and calls == []
    assert weak["demonstrator"]["win_rate"] > 0.9 and weak["demonstrator"]["losses"] == 0
    ref = ev.reference_points(cfg, prompts, demos, sft, d)  # SFT answering as the demonstrator: every prompt a tie
    assert ref["demonstrator"]["win_rate"] == 0.5 and ref["demonstrator"]["ties"] == len(prompts)
    assert len((d / "winrate-demonstrator.jsonl").read_text().splitlines()) == len(prompts)


def test_best_of_picks_by_the_grader_keeps_greedy_on_ties_and_is_cached(tmp_path, monkeypatch):
    cfg, prompts, demos, calls, sft, d = _setup(tmp_path, monkeypatch, best_of=3)
    greedy = ["I don't know."] * len(prompts)
    ref = ev.reference_points(cfg, prompts, greedy, sft, d)
    assert calls == [(len(prompts), 3, 1.0)] and ref["best_of_n"] == 3 and ref["best_of"]["n"] == len(prompts)
    best = [json.loads(l)["response"] for l in (d / "responses-sft-best-of-3.jsonl").read_text().splitlines()]
    assert len(best) == len(prompts)
    for i, (p, b) in enumerate(zip(prompts, best)):
        top = max(grade(p, t).quality for t in [greedy[i], *[f"off topic {j}" for j in range(2)], demos[i] if i % 2 == 0 else "lorem"])
        assert grade(p, b).quality == top
        if i % 2 == 0:
            assert b == demos[i]
        elif top == grade(p, greedy[i]).quality:
            assert b == greedy[i]  # ties go to the greedy answer
    # half the prompts get the demonstration, half keep SFT's answer or a no better one
    assert 0.5 < ref["best_of"]["win_rate"] < ref["demonstrator"]["win_rate"]
    again = ev.reference_points(cfg, prompts, greedy, sft, d)
    assert len(calls) == 1 and again == ref  # the stage rerun judges the stored picks again
    hot = build(LoopConfig, {"runs_dir": str(tmp_path), "eval": {"best_of": 3, "temperature": 0.7}})
    ev.reference_points(hot, prompts, ["Something else."] * len(prompts), sft, d)
    assert len(calls) == 2  # other decoding settings, other SFT answers to pick among: sampled again


def _fake_rm(monkeypatch, prefer):
    """An RM that scores 1 what ``prefer(i, text)`` accepts for prompt i, else 0."""
    import instructrl.reward

    monkeypatch.setattr(instructrl.reward, "load_reward_model", lambda spec, device="cpu": spec)
    index = {}

    def fake_score(rm, ps, texts):
        assert rm.endswith("rm/final")
        return [1.0 if prefer(index.setdefault(p.id, len(index)), t) else 0.0 for p, t in zip(ps, texts)]

    monkeypatch.setattr(instructrl.reward, "score", fake_score)


def test_rm_best_of_picks_by_the_rounds_rm_keeps_sft_on_ties_and_reuses_round_1s_samples(tmp_path, monkeypatch):
    cfg, prompts, demos, calls, sft, d = _setup(tmp_path, monkeypatch, best_of=3)
    greedy = ["I don't know."] * len(prompts)
    ref = ev.reference_points(cfg, prompts, greedy, sft, d)
    _fake_rm(monkeypatch, lambda i, t: t == demos[i])  # the RM knows the demonstration when it sees one
    bon = ev.rm_best_of(cfg, tmp_path, 1, prompts, greedy, d)
    assert len(calls) == 1  # round 1's samples, drawn once for the reference
    assert bon["n"] == 3 and bon["n_prompts"] == len(prompts) and bon["greedy_share"] == 0.5  # odd prompts: all 0, SFT's answer kept
    picks = [json.loads(l)["response"] for l in (d / "responses-rm-best-of-3.jsonl").read_text().splitlines()]
    assert picks == [demos[i] if i % 2 == 0 else greedy[i] for i in range(len(prompts))]
    assert bon["win_rate"]["win_rate"] == ref["best_of"]["win_rate"]  # here the RM picks as the grader does
    d2 = tmp_path / "round-2" / "eval"
    d2.mkdir(parents=True)
    _fake_rm(monkeypatch, lambda i, t: t == "off topic 1")  # round 2's RM prefers an off-topic sample
    bon2 = ev.rm_best_of(cfg, tmp_path, 2, prompts, greedy, d2)
    assert len(calls) == 1 and (d2 / "samples-sft-t1-3.jsonl").exists()  # round 1's samples, not sampled again
    assert bon2["greedy_share"] == 0.0 and bon2["win_rate"]["win_rate"] < bon["win_rate"]["win_rate"]
    assert ev.rm_best_of(build(LoopConfig, {"runs_dir": str(tmp_path)}), tmp_path, 2, prompts, greedy, d2) is None  # best_of 0: off


def test_no_reference_without_specs_and_bad_best_of(tmp_path, monkeypatch):
    cfg, prompts, demos, calls, sft, d = _setup(tmp_path, monkeypatch, best_of=2)
    plain = [Prompt(id=f"real-{i}", text="Write a poem.") for i in range(3)]
    assert ev.reference_points(cfg, plain, ["A poem."] * 3, sft, d) is None and calls == []
    with pytest.raises(ValueError, match="eval.best_of must be >= 0"):
        build(LoopConfig, {"eval": {"best_of": -1}})


def test_summary_table_quotes_the_reference():
    wr = lambda x: {"win_rate": x, "ci_low": x - 0.05, "ci_high": x + 0.05, "wins": 1, "ties": 0, "losses": 0}
    rounds = [{"round": 1, "n_prompts": 10, "policies": {"sft": {}, "ppo": {"win_rate": wr(0.55)}},
               "reference": {"n_prompts": 9, "demonstrator": wr(0.84), "best_of": wr(0.71), "best_of_n": 16}},
              {"round": 2, "n_prompts": 10, "policies": {"sft": {}, "ppo": {"win_rate": wr(0.56)}}}]
    text = summary_table(rounds)
    assert "Reference, on the 9 test prompts the demonstrator answers: its answers against SFT's win 0.840 (0.790-0.890)" in text
    assert "the best of SFT's answer and 16 of its T=1 samples, picked by the grader, 0.710 (0.660-0.760)" in text
    assert "Reference" not in summary_table(rounds[1:]) and "RM picking" not in text
    rounds[1]["rm_best_of"] = {"n": 16, "n_prompts": 9, "win_rate": wr(0.42), "greedy_share": 0.25}
    assert ("Round 2's RM picking among the same 17 candidates (best-of-17 rejection sampling, 9 prompts): 0.420 (0.370-0.470) "
            "against SFT, SFT's own answer kept on 25%; its PPO policy 0.560 on all test prompts.") in summary_table(rounds)
