"""JSONL and HF ``datasets`` IO for the record types in ``schemas``.

Every error names ``file:line`` and the field. By default the first bad row raises;
``skip_bad=True`` skips bad rows and counts them (``Loaded.n_skipped``), so a user
who knowingly feeds messy data can proceed and still see how much was dropped.
"""

from __future__ import annotations

import contextlib
import dataclasses
import gzip
import json
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Generic, Iterable, Iterator, Mapping, TextIO, TypeVar

from .schemas import RECORD_TYPES, DataError

T = TypeVar("T")


@dataclass
class Loaded(Generic[T]):
    records: list[T]
    n_skipped: int = 0
    sources: list[str] = field(default_factory=list)  # "file:line" of each record
    errors: list[str] = field(default_factory=list)  # first few skipped-row messages

    def __len__(self) -> int:
        return len(self.records)

    def __iter__(self):
        return iter(self.records)


def _open_text(path: Path):
    if path.suffix == ".gz":
        return gzip.open(path, "rt", encoding="utf-8")
    return open(path, encoding="utf-8")


def _resolve_type(record_type: type[T] | str) -> type[T]:
    if isinstance(record_type, str):
        if record_type not in RECORD_TYPES:
            raise ValueError(f"unknown record type {record_type!r}; known: {sorted(RECORD_TYPES)}")
        return RECORD_TYPES[record_type]  # type: ignore[return-value]
    return record_type


def parse_rows(
    rows: Iterable[tuple[str, Any]],
    record_type: type[T] | str,
    *,
    skip_bad: bool = False,
    validate: Callable[[T], None] | None = None,
) -> Loaded[T]:
    """Turn ``(where, dict)`` rows into records. ``validate`` adds per-record checks."""
    cls = _resolve_type(record_type)
    out: Loaded[T] = Loaded(records=[])
    for where, row in rows:
        try:
            rec = cls.from_dict(row)  # type: ignore[attr-defined]
            if validate is not None:
                validate(rec)
        except DataError as e:
            if not skip_bad:
                raise e.located(where) from None
            out.n_skipped += 1
            if len(out.errors) < 20:
                out.errors.append(str(e.located(where)))
            continue
        out.records.append(rec)
        out.sources.append(where)
    return out


def _iter_jsonl(path: Path, skip_bad: bool, sink: Loaded) -> Iterable[tuple[str, Any]]:
    with _open_text(path) as f:
        for lineno, line in enumerate(f, start=1):
            if not line.strip():
                continue
            where = f"{path}:{lineno}"
            try:
                yield where, json.loads(line)
            except json.JSONDecodeError as e:
                err = DataError(f"invalid JSON ({e.msg} at column {e.colno})", where=where)
                if not skip_bad:
                    raise err from None
                sink.n_skipped += 1
                if len(sink.errors) < 20:
                    sink.errors.append(str(err))


def read_jsonl(
    path: str | Path,
    record_type: type[T] | str,
    *,
    skip_bad: bool = False,
    validate: Callable[[T], None] | None = None,
) -> Loaded[T]:
    """Read a JSONL (optionally .gz) file of records of ``record_type``."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"data file not found: {path}")
    json_errors: Loaded = Loaded(records=[])
    loaded = parse_rows(_iter_jsonl(path, skip_bad, json_errors), record_type, skip_bad=skip_bad, validate=validate)
    loaded.n_skipped += json_errors.n_skipped
    loaded.errors = json_errors.errors + loaded.errors
    return loaded


@contextlib.contextmanager
def _replacing(path: str | Path) -> Iterator[TextIO]:
    """A text file that takes ``path``'s place only once it is complete, so that a reader (or a
    process killed mid-write) sees the old file or the new one, never a truncated one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        yield f
    tmp.replace(path)


def write_text_atomic(path: str | Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically (see ``_replacing``)."""
    with _replacing(path) as f:
        f.write(text)


def save_figure(fig: Any, path: str | Path, **savefig_kwargs: Any) -> None:
    """Save a matplotlib figure atomically, in the format its suffix names: it is written
    beside ``path`` and moved into place, so a reader (or a rerun after a kill) never sees
    half an image."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    fig.savefig(tmp, format=path.suffix.lstrip(".") or "png", **savefig_kwargs)
    tmp.replace(path)


def write_jsonl(path: str | Path, records: Iterable[Any]) -> int:
    """Write records (anything with ``to_dict``, or plain dicts) atomically; returns the count."""
    n = 0
    with _replacing(path) as f:
        for r in records:
            d = r.to_dict() if hasattr(r, "to_dict") else r
            f.write(json.dumps(d, ensure_ascii=False) + "\n")
            n += 1
    return n


def read_log(path: str | Path) -> list[dict[str, Any]]:
    """The rows of an append-only JSONL log (metrics, samples, a generation cache); [] if absent.

    A process killed mid-append leaves a last line without its newline that may not parse.
    That torn line is dropped, with a warning, and cut from the file (atomically), so the
    next append starts on a line of its own and nothing written before it is lost. A bad
    line anywhere else is corruption, not a crash, and raises a ``DataError`` naming it."""
    path = Path(path)
    if not path.exists():
        return []
    text = path.read_text(encoding="utf-8")
    lines = text.split("\n")
    rows: list[dict[str, Any]] = []
    for lineno, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError as e:
            if lineno == len(lines):  # the last line, with no newline after it: a torn append
                warnings.warn(f"{path}:{lineno}: dropped an incomplete last line (a write interrupted by a kill)", stacklevel=2)
                write_text_atomic(path, "\n".join(lines[:-1]) + "\n" if lineno > 1 else "")
                break
            raise DataError(f"invalid JSON ({e.msg} at column {e.colno})", where=f"{path}:{lineno}") from None
    return rows


def append_log(path: str | Path, rows: Iterable[Mapping[str, Any]]) -> None:
    """Append ``rows`` to a JSONL log, one line each (the log ``read_log`` reads; ``write_jsonl``
    replaces one atomically, as a resume dropping rows past its checkpoint does)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists() and path.stat().st_size:
        with open(path, "rb") as f:
            f.seek(-1, 2)
            torn = f.read(1) != b"\n"
        if torn:  # an append that a kill interrupted: cut it before it runs into this one
            read_log(path)
    with open(path, "a", encoding="utf-8") as f:
        f.write("".join(json.dumps(r, ensure_ascii=False, default=str) + "\n" for r in rows))



def _remap(row: Mapping[str, Any], columns: Mapping[str, str]) -> dict[str, Any]:
    """Rename dataset columns to record fields (``columns`` maps field -> column)."""
    out = dict(row)
    for dst, src in columns.items():
        if src not in row:
            raise DataError(f"column {src!r} (mapped to {dst!r}) not in dataset columns {sorted(row)}", field=dst)
        out.pop(src, None)
        out[dst] = row[src]
    return out


def load_hf_dataset(
    name_or_path: str,
    record_type: type[T] | str,
    *,
    split: str = "train",
    columns: Mapping[str, str] | None = None,
    keep_columns: Iterable[str] | None = None,
    skip_bad: bool = False,
    data_files: str | list[str] | None = None,
) -> Loaded[T]:
    """Load records from an HF ``datasets`` dataset (hub id, local dir or data files).

    ``columns`` maps record fields to dataset columns, e.g. ``{"prompt": "instruction",
    "response": "output"}``. Columns not mapped and not in ``keep_columns`` are dropped.
    """
    import datasets  # heavy: imported lazily

    if data_files is not None:
        ds = datasets.load_dataset(name_or_path, data_files=data_files, split=split)
    elif Path(name_or_path).exists() and (Path(name_or_path) / "dataset_info.json").exists():
        ds = datasets.load_from_disk(name_or_path)
        if isinstance(ds, datasets.DatasetDict):
            ds = ds[split]
    else:
        ds = datasets.load_dataset(name_or_path, split=split)
    columns = dict(columns or {})
    keep = set(columns) | set(keep_columns or ())
    cls = _resolve_type(record_type)
    fields = {f.name for f in dataclasses.fields(cls)}

    def rows():
        for i, row in enumerate(ds):
            where = f"{name_or_path}[{split}]#{i}"
            try:
                r = _remap(row, columns)
            except DataError as e:
                raise e.located(where) from None
            if columns or keep_columns:
                r = {k: v for k, v in r.items() if k in keep or k in fields}
            yield where, r

    return parse_rows(rows(), cls, skip_bad=skip_bad)
