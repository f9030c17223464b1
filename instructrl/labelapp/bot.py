"""Bot labelers: simulated people who label through the real HTTP API.

Each bot is a labeler account with a ``label``-scoped token (created through
``POST /api/v1/labelers`` with an admin token holding ``labelers:write``). Bots lease work,
answer with a ``Judge`` and submit, exactly as the web pages do, so they exercise
leases, caps, overlap and results end to end: for demos, CI and load tests.

The judgement is pluggable. ``default_judge`` gives bot i the i-th simulated labeler of
``instructrl.labelers.training_panel`` (or ``heldout_panel``), so bots disagree as the
paper's labelers do; prompts that are not generated tasks get ``RandomJudge``.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Protocol

from instructrl.data.schemas import RATING_FLAGS, Prompt


class Judge(Protocol):
    def demonstrate(self, prompt: Prompt) -> str: ...

    def rate_rank(self, prompt: Prompt, responses: list[str]) -> tuple[list[int], list[dict], list[int]]:
        """(likert per response, flags per response, ranks with ties; 1 = best)."""
        ...


class RandomJudge:
    """Seeded random judgement: ranks with occasional ties and Likert scores that agree with them."""

    def __init__(self, seed: int = 0) -> None:
        self.rng = random.Random(seed)

    def demonstrate(self, prompt: Prompt) -> str:
        return f"(bot demonstration) A helpful answer to: {prompt.as_text()[:200]}"

    def rate_rank(self, prompt: Prompt, responses: list[str]) -> tuple[list[int], list[dict], list[int]]:
        k = len(responses)
        order = list(range(k))
        self.rng.shuffle(order)
        ranks = [0] * k
        rank = 0
        for pos, i in enumerate(order):
            if pos == 0 or self.rng.random() > 0.2:  # ~20% of neighbours tie
                rank += 1
            ranks[i] = rank
        likerts = [max(1, min(7, 8 - r - (r > 1))) for r in ranks]
        flags = [{f: False for f in RATING_FLAGS if f != "satisfies_constraint"} for _ in range(k)]
        return likerts, flags, ranks


class SimulatedJudge:
    """One simulated labeler of ``instructrl.labelers`` (quirks and noise calibrated to the
    paper's ~73% agreement). It can judge generated prompts only (they carry a grading
    ``spec``); other prompts go to ``fallback``."""

    def __init__(self, labeler: Any, seed: int, fallback: Judge) -> None:
        self.labeler, self.seed, self.fallback = labeler, seed, fallback

    def demonstrate(self, prompt: Prompt) -> str:
        if "spec" not in prompt.metadata:
            return self.fallback.demonstrate(prompt)
        from instructrl.tasks.demonstrator import demonstrate

        return demonstrate(prompt, seed=self.seed)

    def rate_rank(self, prompt: Prompt, responses: list[str]) -> tuple[list[int], list[dict], list[int]]:
        if "spec" not in prompt.metadata:
            return self.fallback.rate_rank(prompt, responses)
        ratings = [self.labeler.rate(prompt, r) for r in responses]
        ranking = self.labeler.rank(prompt, responses)
        return [r.likert for r in ratings], [dict(r.flags) for r in ratings], list(ranking.ranks)


def default_judge(seed: int, index: int = 0, pool: str = "train") -> Judge:
    """Bot ``index``'s judgement: the simulated panel's labeler ``index`` when
    ``instructrl.labelers`` provides panels, else ``RandomJudge``."""
    fallback = RandomJudge(seed + index)
    try:
        from instructrl.labelers import heldout_panel, training_panel
    except ImportError:
        return fallback
    panel = heldout_panel(seed) if pool == "heldout" else training_panel(seed)
    return SimulatedJudge(panel.labelers[index % len(panel.labelers)], seed + index, fallback)


@dataclass
class BotReport:
    submitted: dict[str, int] = field(default_factory=lambda: {"demo": 0, "rate_rank": 0})
    labelers: list[str] = field(default_factory=list)


class _Bot:
    def __init__(self, name: str, token: str, judge: Judge) -> None:
        self.name, self.headers, self.judge = name, {"Authorization": f"Bearer {token}"}, judge


def run_bots(
    url: str, admin_token: str, *, n_labelers: int = 3, pool: str = "train", seed: int = 0,
    kinds: tuple[str, ...] = ("demo", "rate_rank"), idle_rounds: int = 1, poll_s: float = 2.0,
    max_tasks: int | None = None, client: Any = None, judge_factory: Callable[[int], Judge] | None = None,
    prefix: str = "bot", stop: Callable[[], bool] | None = None,
) -> BotReport:
    """Label until there is no work for ``idle_rounds`` polls in a row (0 = forever), ``stop()``
    is true, or ``max_tasks`` labels were submitted. Bots take turns in one thread."""
    import httpx

    http = client if client is not None else httpx.Client(timeout=30.0)
    base = url.rstrip("/")
    admin = {"Authorization": f"Bearer {admin_token}"}
    bots = []
    for i in range(n_labelers):
        name = f"{prefix}-{pool}-{i}"
        r = http.post(f"{base}/api/v1/labelers", json={"username": name, "pool": pool, "bot": True}, headers=admin)
        _check(r)
        judge = default_judge(seed, i, pool) if judge_factory is None else judge_factory(seed + i)
        bots.append(_Bot(name, r.json()["token"], judge))
    report = BotReport(labelers=[b.name for b in bots])
    idle = 0
    while True:
        outcomes = set()
        for bot in bots:
            for kind in kinds:
                if stop is not None and stop():
                    return report
                if max_tasks is not None and sum(report.submitted.values()) >= max_tasks:
                    return report
                outcomes.add(_one_task(http, base, bot, kind, report))
        if "worked" in outcomes:
            idle = 0
            continue
        if "throttled" not in outcomes:  # a rate limit is not "no work"
            idle += 1
            if idle_rounds and idle >= idle_rounds:
                return report
        time.sleep(poll_s)


def _one_task(http: Any, base: str, bot: _Bot, kind: str, report: BotReport) -> str:
    """Lease, judge and submit one task: "worked", "idle" (no work) or "throttled" (429)."""
    r = http.post(f"{base}/api/v1/label/lease", params={"kind": kind}, headers=bot.headers)
    if r.status_code == 204:
        return "idle"
    if r.status_code == 429:
        return "throttled"
    _check(r)
    a = r.json()
    prompt = Prompt.from_dict(a["prompt"])
    if a["kind"] == "demo":
        body: dict[str, Any] = {"text": bot.judge.demonstrate(prompt), "active_s": 1.0}
    else:
        texts = [x["text"] for x in a["responses"]]  # display order
        likerts, flags, ranks = bot.judge.rate_rank(prompt, texts)
        body = {"ratings": [{"likert": v, "flags": f, "notes": ""} for v, f in zip(likerts, flags)],
                "ranks": ranks, "active_s": 1.0}
    _check(http.post(f"{base}/api/v1/label/a/{a['id']}/submit", json=body, headers=bot.headers))
    report.submitted[a["kind"]] += 1
    return "worked"


def _check(r: Any) -> None:
    if r.status_code >= 400:
        raise RuntimeError(f"labelapp bot: HTTP {r.status_code} from {r.request.url}: {r.text[:300]}")
