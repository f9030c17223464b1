"""Data source specs used by every stage's config.

- ``path/to/file.jsonl[.gz]``: records of the stage's type.
- ``hf:<name or dir>[@split]``: an HF ``datasets`` dataset; columns mapped by the config.
- ``generated:<n>[@seed]``: ``n`` prompts from instructrl's prompt generator
  (``instructrl.tasks``), with demonstrations written by its demonstrator when the stage
  needs demonstrations. The built-in default, so everything runs with no data at hand.

Pretraining text (SFT mix, PPO-ptx) uses the same specs: a ``.jsonl`` with a ``text``
field, a ``.txt`` file (one document per blank-line-separated block), ``hf:`` with a text
column, or ``generated:<n>`` for the generator's pretraining corpus.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Mapping

from .io import Loaded, load_hf_dataset, read_jsonl
from .schemas import DataError, Demonstration, Prompt


def parse_generated(spec: str) -> tuple[int, int]:
    body = spec.split(":", 1)[1]
    n_text, _, seed_text = body.partition("@")
    try:
        return int(n_text), int(seed_text or 0)
    except ValueError:
        raise ValueError(f"data spec {spec!r}: expected generated:<n>[@seed]") from None


def _parse_hf(spec: str) -> tuple[str, str]:
    body = spec.split(":", 1)[1]
    name, _, split = body.partition("@")
    return name, split or "train"


def load_records(spec: str, record_type: type | str, *, columns: Mapping[str, str] | None = None, skip_bad: bool = False) -> Loaded:
    if spec.startswith("hf:"):
        name, split = _parse_hf(spec)
        return load_hf_dataset(name, record_type, split=split, columns=columns, skip_bad=skip_bad)
    if spec.startswith("generated:"):
        raise ValueError(f"data spec {spec!r}: generated data is not available for this record type")
    return read_jsonl(spec, record_type, skip_bad=skip_bad)


def load_prompts(spec: str, *, columns: Mapping[str, str] | None = None, skip_bad: bool = False) -> list[Prompt]:
    if spec.startswith("generated:"):
        from instructrl.tasks import generate_prompts

        n, seed = parse_generated(spec)
        return generate_prompts(n, seed=seed)
    return load_records(spec, Prompt, columns=columns, skip_bad=skip_bad).records


def load_demonstrations(spec: str, *, columns: Mapping[str, str] | None = None, skip_bad: bool = False) -> Loaded[Demonstration]:
    if spec.startswith("generated:"):
        from instructrl.tasks import demonstrate, generate_prompts

        n, seed = parse_generated(spec)
        prompts = generate_prompts(n, seed=seed)
        return Loaded(records=[Demonstration(prompt=p, response=demonstrate(p, seed=seed + i), labeler_id="demonstrator") for i, p in enumerate(prompts)])
    return load_records(spec, Demonstration, columns=columns, skip_bad=skip_bad)


def load_texts(spec: str, *, text_column: str = "text") -> list[str]:
    """Pretraining documents from a spec (see module docstring)."""
    if spec.startswith("generated:"):
        from instructrl.tasks import generate_pretraining_corpus

        n, seed = parse_generated(spec)
        return generate_pretraining_corpus(n, seed=seed)
    if spec.startswith("hf:"):
        import datasets

        name, split = _parse_hf(spec)
        ds = datasets.load_from_disk(name)[split] if Path(name).is_dir() else datasets.load_dataset(name, split=split)
        if text_column not in ds.column_names:
            raise DataError(f"column {text_column!r} not in {ds.column_names}", field=text_column, where=spec)
        return [t for t in ds[text_column] if t and t.strip()]
    path = Path(spec)
    if not path.exists():
        raise FileNotFoundError(f"pretraining text not found: {path}")
    if path.suffix == ".txt":
        return [b.strip() for b in path.read_text(encoding="utf-8").split("\n\n") if b.strip()]
    out = []
    opener: Any = open
    if path.suffix == ".gz":
        import gzip

        opener = gzip.open
    with opener(path, "rt", encoding="utf-8") as f:
        for i, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as e:
                raise DataError(f"invalid JSON ({e.msg})", where=f"{path}:{i}") from None
            if not isinstance(row, dict) or not isinstance(row.get(text_column), str):
                raise DataError("missing or non-string text field", field=text_column, where=f"{path}:{i}")
            if row[text_column].strip():
                out.append(row[text_column])
    return out
