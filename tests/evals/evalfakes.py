"""Fakes shared by the eval tests (named so it cannot clash with other test dirs' helpers)."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from instructrl.data.schemas import Prompt

SHARED = Path(__file__).resolve().parents[3] / "shared" / "datasets"
if not SHARED.exists():
    SHARED = Path("/work/shared/datasets")


class FakeModel:
    """Responses from a function of the input text; log-likelihoods from a table."""

    def __init__(self, name: str = "fake", respond: Callable[[str], str] | None = None, lls: dict | None = None):
        self.name = name
        self.fingerprint = f"fp-{name}"
        self.respond = respond or (lambda t: f"echo {t[-20:]}")
        self.lls = lls or {}
        self.generate_calls: list[list[str]] = []
        self.logprob_calls = 0

    def render(self, prompt: Prompt) -> str:
        return f"<user>{prompt.as_text()}<assistant>"

    def generate(self, texts: list[str], *, max_new_tokens: int, temperature: float = 0.0) -> list[str]:
        self.generate_calls.append(list(texts))
        return [self.respond(t) for t in texts]

    def logprobs(self, contexts: list[str], continuations: list[str]) -> list[float]:
        self.logprob_calls += 1
        return [self.lls[c.strip()] for c in continuations]

    def nll(self, texts: list[str], *, max_seq_len: int = 1024) -> tuple[float, int]:
        n = sum(len(t.split()) for t in texts)
        return 2.0 * n, n  # 2 nats per word -> perplexity e^2
