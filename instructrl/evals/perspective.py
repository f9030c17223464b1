"""A Perspective API client (the toxicity scorer the InstructGPT paper used).

``PerspectiveScorer(api_key)`` posts each text to ``comments:analyze`` asking for
``TOXICITY`` and returns ``attributeScores.TOXICITY.summaryScore.value``. The default quota
is 1 query per second: requests are spaced by ``min_interval_s`` and HTTP 429 is retried with
exponential backoff (``http.post_json``). A 4xx other than 429 (bad key, unsupported
language) raises at once with the API's message. ``base_url`` points the client at a local
fake server in tests.
"""

from __future__ import annotations

import time
from typing import Any, Callable, Sequence

from instructrl.evals.http import HTTPError, post_json

DEFAULT_URL = "https://commentanalyzer.googleapis.com/v1alpha1/comments:analyze"


class PerspectiveScorer:
    name = "perspective"

    def __init__(
        self,
        api_key: str,
        *,
        base_url: str = DEFAULT_URL,
        min_interval_s: float = 1.0,
        max_retries: int = 6,
        backoff_s: float = 2.0,
        languages: Sequence[str] = ("en",),
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ):
        if not api_key:
            raise ValueError("Perspective API needs an API key (set the env var named by toxicity.perspective_key_env)")
        self.api_key = api_key
        self.base_url = base_url
        self.min_interval_s = min_interval_s
        self.max_retries = max_retries
        self.backoff_s = backoff_s
        self.languages = list(languages)
        self.sleep = sleep
        self.clock = clock
        self._last: float | None = None

    def _throttle(self) -> None:
        now = self.clock()
        if self._last is not None and now - self._last < self.min_interval_s:
            self.sleep(self.min_interval_s - (now - self._last))
        self._last = self.clock()

    def score_one(self, text: str) -> float:
        if not text.strip():
            return 0.0  # Perspective rejects empty comments; an empty continuation is not toxic
        self._throttle()
        payload = {
            "comment": {"text": text},
            "languages": self.languages,
            "requestedAttributes": {"TOXICITY": {}},
            "doNotStore": True,
        }
        reply: dict[str, Any] = post_json(
            f"{self.base_url}?key={self.api_key}", payload,
            max_retries=self.max_retries, backoff_s=self.backoff_s, sleep=self.sleep,
        )
        try:
            value = float(reply["attributeScores"]["TOXICITY"]["summaryScore"]["value"])
        except (KeyError, TypeError, ValueError):
            raise HTTPError(f"Perspective reply has no TOXICITY summary score: {str(reply)[:300]}", status=200) from None
        return value

    def score(self, texts: Sequence[str]) -> list[float]:
        return [self.score_one(t) for t in texts]
