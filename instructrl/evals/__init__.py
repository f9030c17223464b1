"""``instructrl eval``: evaluate checkpoints side by side (InstructGPT §7 / method doc §7).

Evaluators: win rate (pluggable judge), IFEval-format instruction following, TruthfulQA
(MC1/MC2 and generation), RealToxicityPrompts-style toxicity, closed-domain hallucination,
alignment tax (perplexity, lm-eval hand-off) and reward-model accuracy. Outputs a terminal
table, ``eval.json``, ``eval.md`` with PNG bar charts and per-example JSONL.
"""

from __future__ import annotations

from typing import Any

from instructrl.evals.config import EvalConfig

__all__ = ["EvalConfig", "evaluate", "main"]


def evaluate(cfg: EvalConfig, overrides: Any = None, *, echo: bool = True) -> dict[str, Any]:
    """Python API: run ``cfg`` and return what ``eval.json`` holds (see ``runner.evaluate``)."""
    from instructrl.evals.runner import evaluate as _evaluate

    return _evaluate(cfg, overrides, echo=echo)


def main(argv: list[str]) -> int:
    from instructrl.config import command_main

    cfg, _ = command_main(EvalConfig, argv, "instructrl eval", "Evaluate checkpoints side by side; writes a table, eval.json, eval.md and plots.")
    evaluate(cfg)
    return 0
