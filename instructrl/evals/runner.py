"""``evaluate(cfg)``: every selected evaluator on every checkpoint, side by side.

Straight-line: build the models (lazily loaded), then run each evaluator in turn, each
writing its metrics (``<evaluator>/<metric>``), intervals and per-example JSONL, and finally
the report. Generations go through the shared ``GenerationCache``, so rerunning with another
judge or scorer costs no generation. Models, judge, scorer and detector can be injected
(tests pass fakes; users of the Python API can pass their own).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable

from instructrl.evals.config import EvalConfig
from instructrl.evals.lm import EvalModel, GenerationCache, PredictionsModel, build_eval_model, expand_checkpoint_specs
from instructrl.evals.report import write_examples, write_report


@dataclass
class Overrides:
    """Injected components; None means: build from the config."""

    models: dict[str, EvalModel] | None = None
    judge: Any = None
    toxicity_scorer: Any = None
    hallucination_detector: Any = None
    reward_fns: dict[str, Callable] | None = None


@dataclass
class _Run:
    cfg: EvalConfig
    out_dir: Path
    models: dict[str, EvalModel]
    cache: GenerationCache
    ov: Overrides
    result: dict[str, Any] = field(default_factory=dict)

    def record(
        self, prefix: str, ckpt: str, metrics: dict[str, float], records: list[dict],
        intervals: dict | None = None, examples: str | None = None,
    ) -> None:
        """Metrics as ``<prefix>/<name>``; records to ``examples/<examples or prefix>/<ckpt>.jsonl``."""
        self.result["metrics"].setdefault(ckpt, {}).update({f"{prefix}/{k}": v for k, v in metrics.items()})
        for k, iv in (intervals or {}).items():
            self.result["intervals"].setdefault(ckpt, {})[f"{prefix}/{k}"] = iv
        if records:
            write_examples(self.out_dir, examples or prefix, ckpt, records)

    def limited(self, items: list) -> list:
        return items[: self.cfg.limit] if self.cfg.limit else items

    def responding_models(self, evaluator: str, prompts: list) -> list[tuple[str, EvalModel]]:
        """Models that can answer ``prompts``: predictions files that lack some are skipped with a note."""
        out, skipped = [], []
        for n, m in self.models.items():
            if isinstance(m, PredictionsModel) and not m.covers([m.render(p) for p in prompts]):
                skipped.append(n)
            else:
                out.append((n, m))
        if skipped:
            self.result["notes"][evaluator] = f"skipped predictions files without responses to these prompts: {skipped}"
        return out

    def scoring_models(self, evaluator: str) -> list[tuple[str, EvalModel]]:
        """Models that can score log-likelihoods; predictions files are skipped with a note."""
        skipped = [n for n, m in self.models.items() if isinstance(m, PredictionsModel)]
        if skipped:
            self.result["notes"][evaluator] = f"skipped predictions-only checkpoints {skipped}"
        return [(n, m) for n, m in self.models.items() if not isinstance(m, PredictionsModel)]


def _truthfulqa_mc(run: _Run) -> None:
    from instructrl.evals import truthfulqa as tqa

    models = run.scoring_models("truthfulqa_mc")
    items = run.limited(tqa.load_mc(run.cfg.truthfulqa.mc_path)) if models else []
    for name, model in models:
        metrics, records = tqa.evaluate_mc(model, items, instruction=run.cfg.truthfulqa.instruction)
        run.record("truthfulqa", name, metrics, records, examples="truthfulqa_mc")


def _truthfulqa_gen(run: _Run) -> None:
    from instructrl.evals import truthfulqa as tqa

    models = run.scoring_models("truthfulqa_gen")
    items = run.limited(tqa.load_gen(run.cfg.truthfulqa.gen_path)) if models else []
    for name, model in models:
        metrics, records = tqa.evaluate_gen(
            model, items, run.cache, instruction=run.cfg.truthfulqa.instruction, max_new_tokens=run.cfg.truthfulqa.max_new_tokens
        )
        run.record("truthfulqa", name, metrics, records, examples="truthfulqa_gen")


def build_toxicity_scorer(cfg: EvalConfig) -> Any:
    t = cfg.toxicity
    if t.scorer == "profanity_check":
        from instructrl.evals.toxicity import ProfanityCheckScorer

        return ProfanityCheckScorer()
    if t.scorer == "detoxify":
        from instructrl.evals.toxicity import DetoxifyScorer

        return DetoxifyScorer(t.detoxify_checkpoint, device=cfg.device)
    from instructrl.evals.perspective import PerspectiveScorer

    return PerspectiveScorer(os.environ.get(t.perspective_key_env, ""), base_url=t.perspective_url)


def _toxicity(run: _Run) -> None:
    from instructrl.evals.toxicity import evaluate_toxicity, load_prompts

    t = run.cfg.toxicity
    prompts = run.limited(load_prompts(t.prompts))
    scorer = run.ov.toxicity_scorer or build_toxicity_scorer(run.cfg)
    run.result["notes"]["toxicity"] = f"scorer: {scorer.name}; share toxic = score > {t.threshold}"
    for name, model in run.scoring_models("toxicity"):
        metrics, records = evaluate_toxicity(
            model, prompts, scorer, run.cache, instructions=t.instructions,
            max_new_tokens=t.max_new_tokens, use_template=t.use_template, threshold=t.threshold,
        )
        run.record("toxicity", name, metrics, records)


def build_judge(cfg: EvalConfig) -> Any:
    from instructrl.evals import judges

    w = cfg.winrate
    if w.judge == "reward":
        from instructrl.evals.rm_accuracy import load_reward_fn

        fn = load_reward_fn(w.reward_model or "", device=cfg.device, batch_size=cfg.batch_size)
        return judges.RewardJudge(fn, tie_margin=w.tie_margin, name=f"rm:{w.reward_model}")
    if w.judge == "panel":
        from instructrl.labelers import heldout_panel

        # The held-out panel is a LabelerBackend: comparisons go out as ranking batches.
        return judges.BackendJudge(heldout_panel(w.panel_seed), "eval-winrate", name=f"panel:{w.panel_seed}")
    return judges.ChatEndpointJudge(w.chat_url or "", w.chat_model or "", api_key=os.environ.get(w.chat_key_env))


def generate_responses(run: _Run, model: EvalModel, prompts: list) -> list[str]:
    texts = [model.render(p) for p in prompts]
    responses, _ = run.cache.generate(model, texts, max_new_tokens=run.cfg.max_new_tokens, temperature=0.0)
    return responses


def _winrate(run: _Run) -> None:
    from instructrl.evals.winrate import judge_win_rate, load_prompt_set

    w = run.cfg.winrate
    prompts = run.limited(load_prompt_set(w.prompts or ""))
    names = list(run.models)
    baseline = w.baseline or names[0]
    if baseline not in run.models:
        raise ValueError(f"winrate.baseline {baseline!r} is not a checkpoint name; names: {names}")
    judge = run.ov.judge or build_judge(run.cfg)
    responding = dict(run.responding_models("winrate", prompts))
    if baseline not in responding:
        raise ValueError(f"winrate.baseline {baseline!r} is a predictions file without responses to {w.prompts}")
    skipped = run.result["notes"].get("winrate", "")
    base_resp = generate_responses(run, run.models[baseline], prompts)
    run.result["notes"]["winrate"] = (
        f"judge {judge.name}, baseline {baseline}, swap={w.swap}, {w.interval} 95% interval, ties count half. {skipped}"
    ).strip()
    for name in responding:
        if name == baseline:
            continue
        resp = generate_responses(run, run.models[name], prompts)
        summary, recs = judge_win_rate(judge, prompts, resp, base_resp, swap=w.swap, interval=w.interval, seed=run.cfg.seed)
        for r, p, a, b in zip(recs, prompts, resp, base_resp):
            r.update(prompt=p.as_text(), response=a, baseline_response=b)
        key = f"vs_{baseline}"
        run.record("winrate", name, {key: summary.win_rate, f"{key}_first_position_rate": summary.first_position_rate},
                   recs, {key: (summary.ci_low, summary.ci_high)})
        run.result.setdefault("winrate", {})[name] = summary.to_dict()


def _ifeval(run: _Run) -> None:
    from instructrl.data.schemas import Prompt
    from instructrl.evals.ifeval import ifeval_metrics, load_ifeval, score_ifeval

    examples = run.limited(load_ifeval(run.cfg.ifeval.path or ""))
    prompts = [Prompt(id=e.key, text=e.prompt) for e in examples]
    for name, model in run.responding_models("ifeval", prompts):
        responses = generate_responses(run, model, prompts)
        records = [{**score_ifeval(e, r), "response": r} for e, r in zip(examples, responses)]
        run.record("ifeval", name, ifeval_metrics(records), records)


def _hallucination(run: _Run) -> None:
    from instructrl.evals.hallucination import LexicalDetector, PanelHallucinationDetector, evaluate_hallucination, load_passage_prompts

    h = run.cfg.hallucination
    examples = run.limited(load_passage_prompts(h.prompts or ""))
    detector = run.ov.hallucination_detector
    if detector is None and h.detector == "panel":
        from instructrl.labelers import heldout_panel

        # One held-out labeler rates each response; its Rating carries the hallucination flag.
        detector = PanelHallucinationDetector(heldout_panel(h.panel_seed).labelers[0])
    detector = detector or LexicalDetector()
    info = f"detector: {detector.name}; {len(examples)} prompts with a passage"
    models = run.responding_models("hallucination", [e.prompt for e in examples])
    run.result["notes"]["hallucination"] = f"{info}. {run.result['notes'].get('hallucination', '')}".strip(" .")
    for name, model in models:
        metrics, records = evaluate_hallucination(model, examples, detector, run.cache, max_new_tokens=run.cfg.max_new_tokens)
        run.record("hallucination", name, metrics, records)


def _perplexity(run: _Run) -> None:
    from instructrl.evals.alignment_tax import load_texts, perplexity

    texts = run.limited(load_texts(run.cfg.alignment_tax.heldout_text or ""))
    for name, model in run.scoring_models("perplexity"):
        run.record("alignment_tax", name, perplexity(model, texts, max_seq_len=run.cfg.alignment_tax.max_seq_len), [])


def _lm_eval(run: _Run) -> None:
    from instructrl.evals.alignment_tax import run_lm_eval
    from instructrl.models import resolve_spec

    a = run.cfg.alignment_tax
    for name, spec in run.result["specs"].items():
        if spec.startswith("predictions:") or spec.split(":")[0] == "tiny":
            continue
        out = str(run.out_dir / "lm_eval" / name.replace("/", "_"))
        metrics = run_lm_eval(resolve_spec(spec), a.lm_eval_tasks, out, lm_eval_bin=a.lm_eval_bin,
                              batch_size=run.cfg.batch_size, device=run.cfg.device)
        run.record("lm_eval", name, metrics, [])


def _rm_accuracy(run: _Run) -> None:
    from instructrl.evals.rm_accuracy import load_preferences, load_reward_fn, ranking_accuracy

    r = run.cfg.rm_accuracy
    fns = run.ov.reward_fns or {
        spec: load_reward_fn(spec, device=run.cfg.device, batch_size=run.cfg.batch_size) for spec in r.reward_models
    }
    for rm_name, fn in fns.items():
        for path in r.data:
            data, n_skipped = load_preferences(path, limit=run.cfg.limit)
            metrics, records = ranking_accuracy(fn, data)
            metrics["n_skipped_rows"] = float(n_skipped)
            tag = Path(path).parent.name if Path(path).name.startswith("test") else Path(path).stem
            run.record("rm_accuracy", rm_name, {f"{tag}/{k}": v for k, v in metrics.items()}, records)
            run.result["specs"].setdefault(rm_name, rm_name)
        if rm_name not in run.result["checkpoints"]:
            run.result["checkpoints"].append(rm_name)


RUNNERS: dict[str, Callable[[_Run], None]] = {
    "truthfulqa_mc": _truthfulqa_mc, "truthfulqa_gen": _truthfulqa_gen, "toxicity": _toxicity,
    "winrate": _winrate, "ifeval": _ifeval, "hallucination": _hallucination,
    "perplexity": _perplexity, "lm_eval": _lm_eval, "rm_accuracy": _rm_accuracy,
}


def evaluate(cfg: EvalConfig, overrides: Overrides | None = None, *, echo: bool = True) -> dict[str, Any]:
    """Run ``cfg.evaluators`` on ``cfg.checkpoints``; write the report; return eval.json's content."""
    from instructrl.config import to_dict
    from instructrl.runs import write_provenance
    from instructrl.runtime import resolve_device

    cfg = replace(cfg, device=str(resolve_device(cfg.device)))  # auto -> where it ran, in eval.json too
    ov = overrides or Overrides()
    out_dir = Path(cfg.output_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    write_provenance(out_dir, cfg)
    named = expand_checkpoint_specs(cfg.checkpoints)
    if ov.models is not None:
        models = ov.models
        specs = {n: dict(named).get(n, "injected") for n in models}
    else:
        models = {
            n: build_eval_model(n, s, dtype=cfg.dtype, batch_size=cfg.batch_size,
                                use_chat_template=cfg.use_chat_template, device=cfg.device)
            for n, s in named
        }
        specs = dict(named)
    cache = GenerationCache(cfg.cache_dir or out_dir / "generations")
    run = _Run(cfg, out_dir, models, cache, ov)
    run.result = {
        "checkpoints": list(models), "specs": specs, "metrics": {n: {} for n in models},
        "intervals": {}, "notes": {}, "timing_s": {}, "config": to_dict(cfg),
    }
    for ev in cfg.evaluators:
        t0 = time.perf_counter()
        RUNNERS[ev](run)
        run.result["timing_s"][ev] = round(time.perf_counter() - t0, 2)
    table = write_report(out_dir, run.result, plots=cfg.plots)
    if echo:
        print(table)
        print(f"\nwrote {out_dir / 'eval.json'}, {out_dir / 'eval.md'} and examples/ under {out_dir}")
    return run.result
