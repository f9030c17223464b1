"""Pairwise judges for win rates: reward model, simulated labeler panel, labeling backend
(human labelers through the labeling app), and an OpenAI-compatible chat endpoint.

A judge answers a batch of comparisons with verdicts in [0, 1]: 1 = response A is better,
0 = B is better, 0.5 = tie. Batches (not single calls) are the interface so that a slow or
asynchronous judge, such as human labelers, can take a whole batch at once. Position bias
is *not* the judge's business: ``winrate.judge_both_orders`` asks every question in both
orders and averages.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import Any, Callable, Protocol, Sequence, runtime_checkable

from instructrl.data.schemas import Prompt

ScoreFn = Callable[[list[Prompt], list[str]], list[float]]


@dataclass(frozen=True)
class Comparison:
    prompt: Prompt
    response_a: str
    response_b: str


@runtime_checkable
class Judge(Protocol):
    name: str

    def compare_many(self, items: Sequence[Comparison]) -> list[float]:
        """One verdict in [0, 1] per comparison (1: A better, 0: B better, 0.5: tie)."""
        ...


def check_verdict(v: float, judge: str) -> float:
    """Verdicts outside [0, 1] are a judge bug; raise naming the judge and value."""
    v = float(v)
    if not 0.0 <= v <= 1.0:
        raise ValueError(f"judge {judge!r} returned verdict {v}; verdicts must lie in [0, 1]")
    return v


class PairwiseJudge:
    """Base for judges that decide one comparison at a time: implement ``compare``."""

    name = "pairwise"

    def compare(self, prompt: Prompt, response_a: str, response_b: str) -> float:
        raise NotImplementedError

    def compare_many(self, items: Sequence[Comparison]) -> list[float]:
        return [check_verdict(self.compare(c.prompt, c.response_a, c.response_b), self.name) for c in items]


class RewardJudge:
    """A reward model as judge: A wins if r(A) > r(B) + tie_margin, tie within the margin.

    ``score_fn(prompts, responses) -> scores`` is any reward function, e.g.
    ``lambda p, r: instructrl.reward.score(rm, p, r)``. Order-invariant by construction, so
    each distinct (prompt, response) is scored once and cached: judging both orders, or
    several checkpoints against one baseline, costs no rescoring. A and B of a prompt are
    sent next to each other, so a reward model encodes the prompt once for both.
    """

    def __init__(self, score_fn: ScoreFn, *, tie_margin: float = 0.0, name: str = "reward"):
        if tie_margin < 0:
            raise ValueError(f"tie_margin must be >= 0, got {tie_margin}")
        self.score_fn = score_fn
        self.tie_margin = tie_margin
        self.name = name
        self._cache: dict[tuple[str, str], float] = {}
        self.n_scored = 0  # responses actually sent to score_fn

    def scores(self, prompts: Sequence[Prompt], responses: Sequence[str]) -> list[float]:
        keys = [(repr(p), r) for p, r in zip(prompts, responses)]
        todo: dict[tuple[str, str], tuple[Prompt, str]] = {}
        for k, p, r in zip(keys, prompts, responses):
            if k not in self._cache and k not in todo:
                todo[k] = (p, r)
        if todo:
            got = self.score_fn([p for p, _ in todo.values()], [r for _, r in todo.values()])
            if len(got) != len(todo):
                raise ValueError(f"reward function returned {len(got)} scores for {len(todo)} responses")
            self._cache.update(zip(todo, (float(x) for x in got)))
            self.n_scored += len(todo)
        return [self._cache[k] for k in keys]

    def compare_many(self, items: Sequence[Comparison]) -> list[float]:
        prompts = [p for c in items for p in (c.prompt, c.prompt)]
        responses = [r for c in items for r in (c.response_a, c.response_b)]
        s = self.scores(prompts, responses)
        ra, rb = s[0::2], s[1::2]
        return [1.0 if a - b > self.tie_margin else 0.0 if b - a > self.tie_margin else 0.5 for a, b in zip(ra, rb)]


class PanelJudge(PairwiseJudge):
    """The simulated labeler panel (``instructrl.labelers.heldout_panel(seed)``) as judge.

    ``panel.rank(prompt, [a, b])`` returns a ``Ranking``; rank 1 is best, equal ranks tie.
    """

    def __init__(self, panel: Any, name: str = "panel"):
        if not hasattr(panel, "rank"):
            raise TypeError(f"panel {panel!r} has no rank(prompt, responses) method")
        self.panel = panel
        self.name = name

    def compare(self, prompt: Prompt, response_a: str, response_b: str) -> float:
        ranking = self.panel.rank(prompt, [response_a, response_b])
        return ranks_to_verdict(ranking.ranks)


def ranks_to_verdict(ranks: Sequence[int]) -> float:
    """(rank_A, rank_B) -> verdict: lower rank is better, equal ranks tie."""
    if len(ranks) != 2:
        raise ValueError(f"a pairwise judgement needs 2 ranks, got {list(ranks)}")
    a, b = ranks
    return 1.0 if a < b else 0.0 if b < a else 0.5


class BackendJudge:
    """Any ``LabelerBackend`` (the labeling app's client for human labelers, or a simulated
    backend) as judge: the comparisons go out as one K=2 rankings batch from the held-out
    pool, and the judge polls until the batch is done. Submission is idempotent by
    ``batch_id``, so an interrupted eval re-attaches to the same batch when rerun.
    With ``overlap > 1`` the verdicts of several labelers are averaged.
    """

    def __init__(
        self,
        backend: Any,
        batch_id: str,
        *,
        overlap: int = 1,
        poll_s: float = 30.0,
        timeout_s: float | None = None,
        sleep: Callable[[float], None] = time.sleep,
        name: str = "labelers",
    ):
        self.backend = backend
        self.batch_id = batch_id
        self.overlap = overlap
        self.poll_s = poll_s
        self.timeout_s = timeout_s
        self.sleep = sleep
        self.name = name

    def compare_many(self, items: Sequence[Comparison]) -> list[float]:
        from instructrl.labelers.base import LabelBatch, RankingItem

        import hashlib

        # One batch per distinct set of comparisons: rerunning the same eval re-attaches to
        # it, and comparing another checkpoint opens a new batch instead of clashing.
        digest = hashlib.sha1(repr([(c.prompt.id, c.response_a, c.response_b) for c in items]).encode()).hexdigest()[:12]
        batch = LabelBatch(
            id=f"{self.batch_id}-{digest}",
            kind="rankings",
            items=tuple(RankingItem(c.prompt, (c.response_a, c.response_b), ("A", "B")) for c in items),
            pool="heldout",
            overlap=self.overlap,
            metadata={"purpose": "eval/winrate"},
        )
        bid = self.backend.submit(batch)
        waited = 0.0
        while not self.backend.status(bid).complete:
            if self.timeout_s is not None and waited >= self.timeout_s:
                raise TimeoutError(f"labeling batch {bid!r} not complete after {waited:.0f}s; rerun to re-attach")
            self.sleep(self.poll_s)
            waited += self.poll_s
        results = self.backend.results(bid)
        if results.skipped:
            raise ValueError(
                f"labeling batch {bid!r}: the labelers skipped {results.skipped} of {len(items)} comparisons "
                "(the simulated panel only judges instructrl.tasks prompts, which carry metadata['spec'])"
            )
        verdicts: dict[tuple[str, str, str], list[float]] = {}
        for r in results.rankings:
            verdicts.setdefault((r.prompt.id, *r.responses), []).append(ranks_to_verdict(r.ranks))
        out = []
        for c in items:
            got = verdicts.get((c.prompt.id, c.response_a, c.response_b))
            if not got:
                raise ValueError(f"labeling batch {bid!r} has no ranking for prompt {c.prompt.id!r}")
            out.append(sum(got) / len(got))
        return out


DEFAULT_JUDGE_SYSTEM = (
    "You are an impartial judge. Compare two AI assistant responses to the user's instruction. "
    "Prefer the response that follows the instruction more helpfully, truthfully and harmlessly. "
    "Ignore the order in which the responses are shown and their length as such. "
    'After a short explanation, give your verdict as exactly one of "[[A]]" (A is better), '
    '"[[B]]" (B is better) or "[[C]]" (a tie).'
)
DEFAULT_JUDGE_TEMPLATE = (
    "[Instruction]\n{prompt}\n\n[Response A]\n{response_a}\n[End of Response A]\n\n"
    "[Response B]\n{response_b}\n[End of Response B]"
)
_VERDICT = re.compile(r"\[\[([ABC])\]\]")


def parse_verdict(text: str) -> float:
    """The last ``[[A]]``/``[[B]]``/``[[C]]`` in a judge reply -> 1 / 0 / 0.5."""
    found = _VERDICT.findall(text)
    if not found:
        raise ValueError(f"judge reply has no [[A]]/[[B]]/[[C]] verdict: {text[-200:]!r}")
    return {"A": 1.0, "B": 0.0, "C": 0.5}[found[-1]]


class ChatEndpointJudge(PairwiseJudge):
    """An OpenAI-compatible ``/chat/completions`` endpoint with a judge prompt (T = 0)."""

    def __init__(
        self,
        base_url: str,
        model: str,
        *,
        api_key: str | None = None,
        system: str = DEFAULT_JUDGE_SYSTEM,
        template: str = DEFAULT_JUDGE_TEMPLATE,
        max_tokens: int = 512,
        max_retries: int = 5,
        backoff_s: float = 1.0,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.url = base_url.rstrip("/") + "/chat/completions"
        self.model = model
        self.api_key = api_key
        self.system = system
        self.template = template
        self.max_tokens = max_tokens
        self.max_retries = max_retries
        self.backoff_s = backoff_s
        self.sleep = sleep
        self.name = f"chat:{model}"

    def compare(self, prompt: Prompt, response_a: str, response_b: str) -> float:
        from instructrl.evals.http import post_json

        user = self.template.format(prompt=prompt.as_text(), response_a=response_a, response_b=response_b)
        payload = {
            "model": self.model,
            "temperature": 0.0,
            "max_tokens": self.max_tokens,
            "messages": [{"role": "system", "content": self.system}, {"role": "user", "content": user}],
        }
        headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
        reply = post_json(
            self.url, payload, headers=headers, max_retries=self.max_retries, backoff_s=self.backoff_s, sleep=self.sleep
        )
        try:
            text = reply["choices"][0]["message"]["content"]
        except (KeyError, IndexError, TypeError):
            raise ValueError(f"chat endpoint reply has no choices[0].message.content: {str(reply)[:300]}") from None
        return parse_verdict(text)
