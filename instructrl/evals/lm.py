"""What the evaluators need from a checkpoint, behind one small protocol.

``EvalModel`` renders prompts, generates greedy continuations and scores continuations
by log-likelihood. ``HFEvalModel`` wraps ``instructrl.models`` (tiny, smollm2-135m, an HF
directory, a run directory or a hub id); ``PredictionsModel`` serves responses shipped in a
file (e.g. Self-Instruct's text-davinci-001 predictions), so models we cannot run can still
be compared. Tests use fakes with the same three methods.

Every generation goes through ``GenerationCache``: keyed by the model's fingerprint, the
exact input text and the decoding settings, so re-scoring with another judge or scorer
never generates again.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import re
from pathlib import Path
from typing import Any, Protocol, Sequence, runtime_checkable

from instructrl.data.io import append_log, read_log
from instructrl.data.schemas import Prompt


@runtime_checkable
class EvalModel(Protocol):
    name: str  # label in tables and plots
    fingerprint: str  # changes whenever the weights may have changed; keys the cache

    def render(self, prompt: Prompt) -> str: ...

    def generate(self, texts: list[str], *, max_new_tokens: int, temperature: float = 0.0) -> list[str]: ...

    def logprobs(self, contexts: list[str], continuations: list[str]) -> list[float]: ...


def _fingerprint(spec: str) -> str:
    """Spec plus, for a local directory, the size and mtime of every file in it."""
    h = hashlib.sha1(spec.encode())
    path = Path(spec).expanduser()
    if path.is_dir():
        for f in sorted(p for p in path.rglob("*") if p.is_file()):
            st = f.stat()
            h.update(f"{f.relative_to(path)}:{st.st_size}:{int(st.st_mtime)}".encode())
    return h.hexdigest()[:16]


class HFEvalModel:
    """A causal LM loaded lazily through ``instructrl.models`` on first use."""

    def __init__(
        self,
        name: str,
        spec: str,
        *,
        dtype: str = "float32",
        batch_size: int = 8,
        use_chat_template: bool = True,
        device: str = "cpu",
        progress: bool = True,
    ):
        self.name = name
        self.spec = spec
        self.dtype = dtype
        self.batch_size = batch_size
        self.use_chat_template = use_chat_template
        self.device = device
        self.progress = progress
        self.fingerprint = _fingerprint(spec) + f"-{dtype}"
        self._loaded: tuple[Any, Any] | None = None

    def _model(self) -> tuple[Any, Any]:
        if self._loaded is None:
            from instructrl.models import load_causal_lm

            self._loaded = load_causal_lm(self.spec, dtype=self.dtype, dropout=0.0, device=self.device)
        return self._loaded

    def render(self, prompt: Prompt) -> str:
        from instructrl.data.render import render_prompt

        return render_prompt(self._model()[1], prompt, use_chat_template=self.use_chat_template)

    def generate(self, texts: list[str], *, max_new_tokens: int, temperature: float = 0.0) -> list[str]:
        from instructrl.models import generate_text

        model, tok = self._model()
        return generate_text(
            model, tok, texts, max_new_tokens=max_new_tokens, temperature=temperature,
            batch_size=self.batch_size, progress=self.progress,
        )

    def logprobs(self, contexts: list[str], continuations: list[str]) -> list[float]:
        from instructrl.models import sequence_logprobs

        model, tok = self._model()
        return sequence_logprobs(model, tok, contexts, continuations, batch_size=self.batch_size)

    def nll(self, texts: list[str], *, max_seq_len: int = 1024) -> tuple[float, int]:
        """(summed next-token NLL, number of predicted tokens) over ``texts``."""
        from instructrl.evals.alignment_tax import hf_nll

        model, tok = self._model()
        return hf_nll(model, tok, texts, max_seq_len=max_seq_len, batch_size=self.batch_size)

    def unload(self) -> None:
        self._loaded = None


def self_instruct_text(instruction: str, input_text: str) -> str:
    """How a Self-Instruct row becomes one prompt text (instruction, blank line, input)."""
    instruction, input_text = instruction.strip(), input_text.strip()
    return f"{instruction}\n\n{input_text}" if input_text else instruction


class PredictionsModel:
    """Responses read from a JSONL(.gz) file instead of generated.

    Rows are either Self-Instruct predictions (``instruction``, ``input``, ``response``) or
    ``{"prompt": text | Prompt dict, "response": str}``. ``generate`` looks each input text
    up; a missing one raises naming it. ``render`` is the plain prompt text.
    """

    def __init__(self, name: str, path: str | Path):
        self.name = name
        self.path = Path(path)
        if not self.path.exists():
            raise FileNotFoundError(f"predictions file not found: {self.path}")
        self.fingerprint = "predictions-" + _fingerprint(str(self.path.resolve()))
        opener = gzip.open if self.path.suffix == ".gz" else open
        self.responses: dict[str, str] = {}
        with opener(self.path, "rt", encoding="utf-8") as f:
            for lineno, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                except json.JSONDecodeError as e:
                    raise ValueError(f"{self.path}:{lineno}: predictions row is not JSON ({e.msg} at column {e.colno})") from None
                if "response" not in row:
                    raise ValueError(f"{self.path}:{lineno}: predictions row has no 'response' field")
                if "instruction" in row:
                    key = self_instruct_text(row["instruction"], row.get("input") or "")
                elif isinstance(row.get("prompt"), dict):
                    key = Prompt.from_dict(row["prompt"]).as_text()
                elif isinstance(row.get("prompt"), str):
                    key = row["prompt"]
                else:
                    raise ValueError(f"{self.path}:{lineno}: predictions row needs 'instruction' or 'prompt'")
                self.responses[key.strip()] = row["response"].strip()

    def render(self, prompt: Prompt) -> str:
        return prompt.as_text()

    def covers(self, texts: Sequence[str]) -> bool:
        """Whether the file has a response for every text."""
        return all(t.strip() in self.responses for t in texts)

    def generate(self, texts: list[str], *, max_new_tokens: int, temperature: float = 0.0) -> list[str]:
        out = []
        for t in texts:
            if t.strip() not in self.responses:
                raise KeyError(f"{self.path} has no prediction for prompt {t[:80]!r}")
            out.append(self.responses[t.strip()])
        return out

    def logprobs(self, contexts: list[str], continuations: list[str]) -> list[float]:
        raise TypeError(f"checkpoint {self.name!r} is a predictions file: it cannot score log-likelihoods")

    def nll(self, texts: list[str], *, max_seq_len: int = 1024) -> tuple[float, int]:
        raise TypeError(f"checkpoint {self.name!r} is a predictions file: it has no perplexity")


class GenerationCache:
    """One JSONL file per model fingerprint under ``root``; appended as generations finish."""

    def __init__(self, root: str | Path):
        self.root = Path(root)

    def _file(self, model: EvalModel) -> Path:
        slug = re.sub(r"[^A-Za-z0-9_.-]+", "_", model.name)[:60]
        return self.root / f"{slug}-{model.fingerprint}.jsonl"

    @staticmethod
    def key(text: str, max_new_tokens: int, temperature: float) -> str:
        return hashlib.sha1(f"{max_new_tokens}|{temperature}|{text}".encode()).hexdigest()

    def load(self, model: EvalModel) -> dict[str, str]:
        return {row["key"]: row["response"] for row in read_log(self._file(model))}

    def generate(
        self, model: EvalModel, texts: Sequence[str], *, max_new_tokens: int, temperature: float = 0.0
    ) -> tuple[list[str], int]:
        """Responses for ``texts`` (cached or new) and how many were newly generated."""
        have = self.load(model)
        keys = [self.key(t, max_new_tokens, temperature) for t in texts]
        # Longest first: similar lengths share a batch, so less padding (and OOM shows up at once).
        todo = sorted({k: t for k, t in zip(keys, texts) if k not in have}.items(), key=lambda kv: (-len(kv[1]), kv[0]))
        if todo:
            new = model.generate([t for _, t in todo], max_new_tokens=max_new_tokens, temperature=temperature)
            if len(new) != len(todo):
                raise ValueError(f"model {model.name!r} returned {len(new)} responses for {len(todo)} prompts")
            append_log(self._file(model), [{"key": k, "text": t, "response": r} for (k, t), r in zip(todo, new)])
            have.update((k, r) for (k, _), r in zip(todo, new))
        return [have[k] for k in keys], len(todo)


def is_predictions_spec(spec: str) -> bool:
    return spec.startswith("predictions:")


def expand_checkpoint_specs(specs: Sequence[str]) -> list[tuple[str, str]]:
    """``["base=smollm2-135m", "runs/x", ...]`` -> ``[(name, spec), ...]``.

    ``name=spec`` names a checkpoint; otherwise the name is derived from the spec. A run
    directory (no ``config.json``; a ``round-<k>`` or stage layout) expands to its stage
    checkpoints (``sft``, ``ppo``, ``ppo-ptx``) of the last round, in that order.
    """
    out: list[tuple[str, str]] = []
    for raw in specs:
        m = re.match(r"^([\w.+-]+)=(.+)$", raw)
        name, spec = (m.group(1), m.group(2)) if m else ("", raw)
        path = Path(spec).expanduser()
        if not is_predictions_spec(spec) and path.is_dir() and not (path / "config.json").exists():
            stages = _run_dir_stages(path)
            if stages:
                out += [(f"{name or path.name}/{s.name}", str(s)) for s in stages]
                continue
        out.append((name or _default_name(spec), spec))
    names = [n for n, _ in out]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise ValueError(f"checkpoint names must be unique, got duplicates {dup}; name them as name=spec")
    return out


def _run_dir_stages(path: Path) -> list[Path]:
    rounds = sorted((p for p in path.glob("round-*") if p.is_dir()), key=lambda p: int(re.sub(r"\D", "", p.name) or 0))
    base = rounds[-1] if rounds else path
    return [base / s for s in ("sft", "ppo", "ppo-ptx") if (base / s).is_dir()]


def _default_name(spec: str) -> str:
    if is_predictions_spec(spec):
        stem = Path(spec.split(":", 1)[1]).name
        return re.sub(r"(_predictions)?\.jsonl(\.gz)?$", "", stem)
    p = Path(spec)
    return p.name if p.name else spec


def build_eval_model(name: str, spec: str, *, dtype: str, batch_size: int, use_chat_template: bool, device: str) -> EvalModel:
    if is_predictions_spec(spec):
        return PredictionsModel(name, spec.split(":", 1)[1])
    return HFEvalModel(name, spec, dtype=dtype, batch_size=batch_size, use_chat_template=use_chat_template, device=device)
