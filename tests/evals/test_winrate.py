"""Win-rate statistics and judges: Wilson interval on a known case, position-bias control,
and each judge adapter (reward, panel, labeling backend, chat endpoint) with fakes."""

from __future__ import annotations

import pytest

from instructrl.data.schemas import Prompt, Ranking, Rating
from instructrl.evals.judges import (
    BackendJudge, ChatEndpointJudge, Comparison, PairwiseJudge, PanelJudge, RewardJudge, parse_verdict,
)
from instructrl.evals.stats import bootstrap_interval, mean_interval, wilson_interval
from instructrl.evals.winrate import judge_win_rate

P = [Prompt(id=f"p{i}", text=f"prompt {i}") for i in range(4)]


def test_wilson_interval_known_case():
    # 70 wins of 100: center (0.7 + z^2/200)/(1 + z^2/100), hand-computed to 4 decimals
    lo, hi = wilson_interval(0.7, 100)
    assert lo == pytest.approx(0.6042, abs=1e-4) and hi == pytest.approx(0.7811, abs=1e-4)
    lo, hi = wilson_interval(0.0, 10)
    assert lo == 0.0 and hi == pytest.approx(0.2775, abs=1e-4)  # z^2/(n+z^2)
    with pytest.raises(ValueError, match="n >= 1"):
        wilson_interval(0.5, 0)


def test_bootstrap_interval_brackets_the_mean_and_is_seeded():
    scores = [1.0] * 70 + [0.0] * 30
    lo, hi = bootstrap_interval(scores, seed=1)
    assert lo < 0.7 < hi and hi - lo == pytest.approx(0.18, abs=0.04)
    assert bootstrap_interval(scores, seed=1) == (lo, hi)
    assert mean_interval([0.5, 0.5], "bootstrap") == (0.5, 0.5, 0.5)
    with pytest.raises(ValueError, match="'wilson' or 'bootstrap'"):
        mean_interval([1.0], "normal")


class AlwaysFirst(PairwiseJudge):
    """Pure position bias: prefers whatever is shown first."""

    name = "first"

    def compare(self, prompt, a, b):
        return 1.0


class Longer(PairwiseJudge):
    name = "longer"

    def compare(self, prompt, a, b):
        return 1.0 if len(a) > len(b) else 0.0 if len(b) > len(a) else 0.5


def test_swapping_cancels_a_pure_position_bias():
    s, recs = judge_win_rate(AlwaysFirst(), P, ["a"] * 4, ["b"] * 4)
    assert s.win_rate == 0.5 and s.ties == 4 and s.first_position_rate == 1.0 and s.order_agreement == 0.0
    assert recs[0] == {"prompt_id": "p0", "verdict_ab": 1.0, "verdict_ba": 1.0, "score_a": 0.5}


def test_win_rate_with_ties_counted_half():
    a = ["long answer", "x", "same", "long answer"]
    b = ["y", "long answer", "sama", "z"]
    s, _ = judge_win_rate(Longer(), P, a, b)
    # per prompt: win, loss, tie, win -> (1 + 0 + 0.5 + 1) / 4
    assert s.win_rate == pytest.approx(0.625)
    assert (s.wins, s.ties, s.losses) == (2, 1, 1)
    assert s.first_position_rate == 0.5 and s.order_agreement == 1.0
    lo, hi = wilson_interval(0.625, 4)
    assert (s.ci_low, s.ci_high) == pytest.approx((lo, hi))


def test_random_swap_undoes_the_flip():
    s, recs = judge_win_rate(Longer(), P, ["long answer"] * 4, ["b"] * 4, swap="random", seed=3)
    assert s.win_rate == 1.0 and s.order_agreement is None
    assert any(not r["a_shown_first"] for r in recs) and any(r["a_shown_first"] for r in recs)


def test_win_rate_input_errors():
    with pytest.raises(ValueError, match="equal lengths"):
        judge_win_rate(Longer(), P, ["a"], ["b"] * 4)
    with pytest.raises(ValueError, match="swap must be"):
        judge_win_rate(Longer(), P, ["a"] * 4, ["b"] * 4, swap="never")

    class Broken(PairwiseJudge):
        name = "broken"

        def compare(self, prompt, a, b):
            return 2.0

    with pytest.raises(ValueError, match="judge 'broken' returned verdict 2.0"):
        judge_win_rate(Broken(), P, ["a"] * 4, ["b"] * 4)


def test_reward_judge_uses_any_score_function_with_a_tie_margin():
    calls = []

    def rm(prompts, responses):
        calls.append(len(responses))
        return [float(len(r)) for r in responses]

    j = RewardJudge(rm, tie_margin=1.0)
    items = [Comparison(P[0], "aaaa", "a"), Comparison(P[0], "aa", "a"), Comparison(P[0], "a", "aaa")]
    assert j.compare_many(items) == [1.0, 0.5, 0.0]
    assert calls == [4]  # one batched call; "a" recurs for the same prompt and is scored once
    # both orders and a second checkpoint against the same baseline: nothing is rescored
    swapped = [Comparison(c.prompt, c.response_b, c.response_a) for c in items]
    assert j.compare_many(swapped) == [0.0, 0.5, 1.0]
    assert j.compare_many([Comparison(P[0], "aaaaaa", "a"), Comparison(P[1], "a", "aa")]) == [1.0, 0.5]
    assert calls == [4, 3] and j.n_scored == 7  # only the new (prompt, response) pairs
    with pytest.raises(ValueError, match="tie_margin"):
        RewardJudge(rm, tie_margin=-1)


class FakePanel:
    """Ranks by length, ties on equal length (the interface of instructrl.labelers' panel)."""

    def rank(self, prompt, responses):
        ranks = tuple(1 + sum(len(o) > len(r) for o in responses) for r in responses)
        return Ranking(prompt=prompt, responses=tuple(responses), ranks=ranks)

    def rate(self, prompt, response):
        return Rating(prompt=prompt, response=response, likert=4, flags={"hallucination": "moon" in response})


def test_panel_judge_maps_rankings_to_verdicts():
    j = PanelJudge(FakePanel())
    assert j.compare(P[0], "long", "s") == 1.0
    assert j.compare(P[0], "s", "long") == 0.0
    assert j.compare(P[0], "ab", "cd") == 0.5
    with pytest.raises(TypeError, match="rank"):
        PanelJudge(object())


class FakeBackend:
    """A LabelerBackend that finishes after two status polls (like human labelers)."""

    def __init__(self):
        self.batches, self.polls = {}, 0

    def submit(self, batch):
        self.batches.setdefault(batch.id, batch)  # idempotent by id
        return batch.id

    def status(self, batch_id):
        from instructrl.labelers.base import BatchStatus

        self.polls += 1
        n = len(self.batches[batch_id])
        return BatchStatus(batch_id, n, n if self.polls > 2 else 0)

    def results(self, batch_id, *, partial=False):
        from instructrl.labelers.base import LabelResults

        b = self.batches[batch_id]
        assert b.kind == "rankings" and b.pool == "heldout"
        rankings = [FakePanel().rank(it.prompt, it.responses) for it in b.items]
        return LabelResults(batch_id=batch_id, rankings=rankings)


def test_backend_judge_submits_one_batch_and_polls_until_done():
    backend, sleeps = FakeBackend(), []
    j = BackendJudge(backend, "eval-1", poll_s=5, sleep=sleeps.append)
    s, _ = judge_win_rate(j, P[:2], ["long one", "s"], ["s", "long one"])
    assert s.win_rate == 0.5 and s.wins == 1 and s.losses == 1
    assert sleeps == [5, 5] and len(backend.batches) == 1 and next(iter(backend.batches)).startswith("eval-1-")
    # The same comparisons re-attach to the same batch; other comparisons open a new one.
    j.compare_many([Comparison(P[0], "long one", "s"), Comparison(P[1], "s", "long one"),
                    Comparison(P[0], "s", "long one"), Comparison(P[1], "long one", "s")])
    j.compare_many([Comparison(P[0], "x", "yy")])
    assert len(backend.batches) == 2
    slow = BackendJudge(FakeBackend(), "eval-2", poll_s=5, timeout_s=4, sleep=lambda s: None)
    with pytest.raises(TimeoutError, match="eval-2"):
        slow.compare_many([Comparison(P[0], "a", "b")])


def test_backend_judge_with_the_real_held_out_panel():
    from instructrl.labelers import heldout_panel

    j = BackendJudge(heldout_panel(0), "eval")
    with pytest.raises(ValueError, match="skipped 1 of 1 comparisons"):
        j.compare_many([Comparison(P[0], "a", "b")])  # a prompt without a task spec


def test_held_out_panel_prefers_demonstrations_over_a_non_answer():
    from instructrl.labelers import heldout_panel
    from instructrl.tasks import demonstrate, generate_prompts

    prompts = generate_prompts(12, seed=0)
    good = [demonstrate(p) for p in prompts]
    s, _ = judge_win_rate(BackendJudge(heldout_panel(0), "eval"), prompts, good, ["I don't know."] * len(prompts))
    assert s.win_rate > 0.8 and s.ci_low > 0.5


def test_parse_verdict():
    assert parse_verdict("A is clearer. [[A]]") == 1.0
    assert parse_verdict("[[A]] at first, but on reflection [[C]]") == 0.5
    assert parse_verdict("Verdict: [[B]]") == 0.0
    with pytest.raises(ValueError, match="no \\[\\[A\\]\\]"):
        parse_verdict("I prefer the first one")


def test_chat_endpoint_judge_against_a_local_fake_server(fake_server):
    state = {"n": 0}

    def handler(path, body):
        state["n"] += 1
        if state["n"] == 1:
            return 429, {"error": "slow down"}, {"Retry-After": "0"}
        user = body["messages"][-1]["content"]
        verdict = "[[A]]" if user.index("GOOD") < user.index("BAD") else "[[B]]"
        return 200, {"choices": [{"message": {"content": f"Reasoning... {verdict}"}}]}, {}

    url, seen = fake_server(handler)
    sleeps = []
    j = ChatEndpointJudge(url + "/v1", "judge-model", api_key="sk-test", sleep=sleeps.append)
    s, _ = judge_win_rate(j, P[:1], ["GOOD"], ["BAD"])
    assert s.win_rate == 1.0 and s.order_agreement == 1.0
    assert sleeps == [0.0]  # the 429 was retried after Retry-After
    assert seen[-1]["path"] == "/v1/chat/completions"
    assert seen[-1]["headers"]["Authorization"] == "Bearer sk-test"
    assert seen[-1]["body"]["model"] == "judge-model" and seen[-1]["body"]["temperature"] == 0.0
