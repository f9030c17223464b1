"""Explicit constraints on a response: one small pure checker per constraint type.

A constraint is JSON data, ``{"type": "max_words", "value": 30}``; ``check(c, response)``
dispatches to the checker of its type. ``describe(c, variant)`` writes it as an instruction,
in one of several phrasings. Counting rules, shared by checkers, grader and demonstrator:

- words: maximal runs of letters, digits and apostrophes (``"don't"`` is one word);
- sentences: non-empty pieces ending in ``.``, ``!`` or ``?`` (or the end of the text);
- list items: a JSON array's elements, else lines starting with ``1.``/``1)``/``-``/``*``,
  else the comma-separated parts of a single line, else the non-empty lines.
"""

from __future__ import annotations

import json
import re
from typing import Any, Callable

_WORD = re.compile(r"[A-Za-z0-9']+")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
_NUMBERED = re.compile(r"^\s*\d+[.)]\s+(.*\S)\s*$")
_BULLET = re.compile(r"^\s*[-*\u2022]\s+(.*\S)\s*$")

LIST_FORMATS: tuple[str, ...] = ("numbered_list", "bullet_list", "json_list", "comma_list")


def words(text: str) -> list[str]:
    """Words of ``text`` in order, as written."""
    return _WORD.findall(text)


def count_words(text: str) -> int:
    return len(words(text))


def sentences(text: str) -> list[str]:
    """Sentences: split after ``.!?`` followed by whitespace; empty pieces dropped."""
    flat = " ".join(text.split())
    return [s for s in _SENTENCE_END.split(flat) if words(s)]


def count_sentences(text: str) -> int:
    return len(sentences(text))


def parse_json(text: str) -> Any:
    """The JSON value ``text`` holds, or None when it is not valid JSON."""
    try:
        return json.loads(text.strip())
    except (json.JSONDecodeError, ValueError):
        return None


def list_format(text: str) -> str | None:
    """Which list format ``text`` is written in (one of LIST_FORMATS), or None."""
    stripped = text.strip()
    if isinstance(parse_json(stripped), list):
        return "json_list"
    lines = [ln for ln in stripped.splitlines() if ln.strip()]
    if lines and all(_NUMBERED.match(ln) for ln in lines):
        return "numbered_list"
    if lines and all(_BULLET.match(ln) for ln in lines):
        return "bullet_list"
    if len(lines) == 1 and "," in lines[0] and not re.search(r"[.!?]\s", lines[0]):
        return "comma_list"
    return None


def list_items(text: str) -> list[str]:
    """Items of a list written in any of LIST_FORMATS (see module docstring)."""
    stripped = text.strip()
    value = parse_json(stripped)
    if isinstance(value, list):
        return [json.dumps(v) if not isinstance(v, str) else v for v in value]
    lines = [ln for ln in stripped.splitlines() if ln.strip()]
    marked = [m.group(1) for ln in lines if (m := _NUMBERED.match(ln) or _BULLET.match(ln))]
    if marked and len(marked) == len(lines):
        return marked
    if len(lines) == 1 and "," in lines[0]:
        parts = re.split(r",\s*(?:and\s+)?|\s+and\s+", lines[0].rstrip(".!"))
        return [p.strip() for p in parts if p.strip()]
    return [ln.strip() for ln in lines]


def contains_word(text: str, word: str) -> bool:
    """Case-insensitive whole-word (or whole-phrase) match."""
    return re.search(r"(?<![A-Za-z0-9'])" + re.escape(word.lower()) + r"(?![A-Za-z0-9'])", text.lower()) is not None


# ---- checkers: (response, value) -> bool ---------------------------------------------


def check_max_words(response: str, value: int) -> bool:
    return count_words(response) <= value


def check_min_words(response: str, value: int) -> bool:
    return count_words(response) >= value


def check_num_sentences(response: str, value: int) -> bool:
    return count_sentences(response) == value


def check_max_sentences(response: str, value: int) -> bool:
    return 1 <= count_sentences(response) <= value


def check_num_items(response: str, value: int) -> bool:
    return len(list_items(response)) == value


def check_format(response: str, value: str) -> bool:
    """``value`` is one of LIST_FORMATS."""
    if value not in LIST_FORMATS:
        raise ValueError(f"unknown list format {value!r}; known: {list(LIST_FORMATS)}")
    return list_format(response) == value


def check_json_object(response: str, value: str) -> bool:
    """A JSON object with the key ``value`` holding a non-empty string."""
    obj = parse_json(response)
    return isinstance(obj, dict) and isinstance(obj.get(value), str) and bool(obj[value].strip())


def check_include_keywords(response: str, value: list[str]) -> bool:
    return all(contains_word(response, w) for w in value)


def check_avoid_keywords(response: str, value: list[str]) -> bool:
    return not any(contains_word(response, w) for w in value)


def check_case(response: str, value: str) -> bool:
    """``value`` is "lower" or "upper"; the response must contain letters."""
    if value not in ("lower", "upper"):
        raise ValueError(f"case must be 'lower' or 'upper', got {value!r}")
    if not re.search(r"[A-Za-z]", response):
        return False
    return response == (response.lower() if value == "lower" else response.upper())


def _bare(text: str) -> str:
    """Lowercased, without surrounding whitespace and end punctuation (``"The end."`` ~ ``"the end"``)."""
    return text.strip().rstrip(".!?").strip().lower()


def check_start_with(response: str, value: str) -> bool:
    return response.strip().lower().startswith(_bare(value))


def check_end_with(response: str, value: str) -> bool:
    return _bare(response).endswith(_bare(value))


def check_no_commas(response: str, value: bool = True) -> bool:
    return "," not in response


CHECKERS: dict[str, Callable[[str, Any], bool]] = {
    "max_words": check_max_words,
    "min_words": check_min_words,
    "num_sentences": check_num_sentences,
    "max_sentences": check_max_sentences,
    "num_items": check_num_items,
    "format": check_format,
    "json_object": check_json_object,
    "include_keywords": check_include_keywords,
    "avoid_keywords": check_avoid_keywords,
    "case": check_case,
    "start_with": check_start_with,
    "end_with": check_end_with,
    "no_commas": check_no_commas,
}
CONSTRAINT_TYPES: tuple[str, ...] = tuple(CHECKERS)


def check(constraint: dict[str, Any], response: str) -> bool:
    """Whether ``response`` satisfies ``constraint`` ({"type": ..., "value": ...})."""
    ctype = constraint.get("type")
    if ctype not in CHECKERS:
        raise ValueError(f"unknown constraint type {ctype!r}; known: {list(CONSTRAINT_TYPES)}")
    return CHECKERS[ctype](response, constraint.get("value"))


# ---- phrasing ---------------------------------------------------------------------------

_FORMAT_NAMES = {
    "numbered_list": ("as a numbered list", "in a numbered list, one item per line"),
    "bullet_list": ("as a bulleted list", "with one item per line, each starting with a dash"),
    "json_list": ("as a JSON list of strings", "in JSON, as an array of strings"),
    "comma_list": ("on one line, separated by commas", "as a comma-separated list"),
}


def _quoted(ws: list[str]) -> str:
    return ", ".join(f'"{w}"' for w in ws)


def _plural(n: Any, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")


_PHRASINGS: dict[str, Callable[[Any], tuple[str, ...]]] = {
    "max_words": lambda v: (f"Use at most {v} words.", f"Keep it under {v + 1} words.", f"No more than {v} words."),
    "min_words": lambda v: (f"Use at least {v} words.", f"Write {v} words or more."),
    "num_sentences": lambda v: (f"Answer in exactly {_plural(v, 'sentence')}.",
                                f"Write exactly {_plural(v, 'sentence')}."),
    "max_sentences": lambda v: (f"Use at most {_plural(v, 'sentence')}.", f"No more than {_plural(v, 'sentence')}."),
    "num_items": lambda v: (f"Give exactly {v} items.", f"List {v} of them, no more, no less."),
    "format": lambda v: tuple(f"Write the items {p}." for p in _FORMAT_NAMES[v]),
    "json_object": lambda v: (f'Reply in JSON as {{"{v}": "..."}}.', f'Answer with a JSON object with the key "{v}".'),
    "include_keywords": lambda v: (f"Include the word{'s' if len(v) > 1 else ''} {_quoted(v)}.",
                                   f"Make sure to use {_quoted(v)}."),
    "avoid_keywords": lambda v: (f"Do not use the word{'s' if len(v) > 1 else ''} {_quoted(v)}.",
                                 f"Avoid {_quoted(v)}."),
    "case": lambda v: ((f"Write in {'lowercase' if v == 'lower' else 'all capital'} letters only.",
                        f"Use {'only lowercase' if v == 'lower' else 'ALL CAPS'}.")),
    "start_with": lambda v: (f'Start with "{v}".', f'Begin your answer with "{v}".'),
    "end_with": lambda v: (f'End with "{v}".', f'Finish with the words "{v}".'),
    "no_commas": lambda v: ("Do not use any commas.", "Write it without commas."),
}


def describe(constraint: dict[str, Any], variant: int = 0) -> str:
    """The constraint as an instruction sentence; ``variant`` picks among phrasings."""
    t = constraint.get("type")
    if t not in _PHRASINGS:
        raise ValueError(f"unknown constraint type {t!r}; known: {list(CONSTRAINT_TYPES)}")
    options = _PHRASINGS[t](constraint.get("value"))
    return options[variant % len(options)]
