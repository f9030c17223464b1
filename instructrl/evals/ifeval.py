"""Verifiable instruction following in the IFEval format (Zhou et al. 2023).

Input rows: ``{"key", "prompt", "instruction_id_list", "kwargs"}`` (kwargs: one dict per
instruction; ``None`` values are ignored, as in the reference code). The 25 checkers below
follow google-research ``instruction_following_eval/instructions.py`` rule for rule, with
NLTK and langdetect replaced by the offline stand-ins in ``textstats`` (their limits are
documented there). Accuracy is reported four ways: prompt-level (all of a prompt's
instructions followed) and instruction-level, each *strict* (the response as is) and *loose*
(followed by any of 8 variants: the response with the first line, the last line or both
removed, each with and without ``*`` characters; IFEval §3).
"""

from __future__ import annotations

import collections
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from instructrl.evals.textstats import count_sentences, count_words, detect_language, word_tokenize

RELATIONS = ("less than", "at least")


def _compare(actual: int, relation: str, target: int) -> bool:
    if relation == "less than":
        return actual < target
    if relation == "at least":
        return actual >= target
    raise ValueError(f"relation must be one of {RELATIONS}, got {relation!r}")


# ----------------------------------------------------------------------------- checkers
# Each takes the response and the instruction's kwargs and returns whether it is followed.


def keywords_existence(value: str, *, keywords: list[str]) -> bool:
    return all(re.search(re.escape(k), value, flags=re.IGNORECASE) for k in keywords)


def keywords_frequency(value: str, *, keyword: str, frequency: int, relation: str) -> bool:
    return _compare(len(re.findall(re.escape(keyword.strip()), value, flags=re.IGNORECASE)), relation, frequency)


def keywords_forbidden_words(value: str, *, forbidden_words: list[str]) -> bool:
    return not any(re.search(r"\b" + re.escape(w) + r"\b", value, flags=re.IGNORECASE) for w in forbidden_words)


def keywords_letter_frequency(value: str, *, letter: str, let_frequency: int, let_relation: str) -> bool:
    letter = letter.strip().lower()
    if len(letter) != 1:
        raise ValueError(f"letter_frequency needs a single letter, got {letter!r}")
    return _compare(collections.Counter(value.lower())[letter], let_relation, let_frequency)


def language_response_language(value: str, *, language: str) -> bool:
    detected = detect_language(value)
    return True if detected is None else detected == language  # reference: undetectable passes


def number_sentences(value: str, *, num_sentences: int, relation: str) -> bool:
    return _compare(count_sentences(value), relation, num_sentences)


def number_paragraphs(value: str, *, num_paragraphs: int) -> bool:
    """Paragraphs separated by the markdown divider ``***``; empty inner paragraphs fail."""
    paragraphs = re.split(r"\s?\*\*\*\s?", value)
    n = len(paragraphs)
    for i, p in enumerate(paragraphs):
        if not p.strip():
            if i in (0, len(paragraphs) - 1):
                n -= 1
            else:
                return False
    return n == num_paragraphs


def number_words(value: str, *, num_words: int, relation: str) -> bool:
    return _compare(count_words(value), relation, num_words)


def nth_paragraph_first_word(value: str, *, num_paragraphs: int, nth_paragraph: int, first_word: str) -> bool:
    """``num_paragraphs`` paragraphs split by blank lines; paragraph ``nth`` (1-based) starts with ``first_word``."""
    paragraphs = re.split(r"\n\n", value)
    n = sum(1 for p in paragraphs if p.strip())
    if nth_paragraph > n:
        return False
    para = paragraphs[nth_paragraph - 1].strip()
    if not para:
        return False
    word = para.split()[0].strip().lstrip("'").lstrip('"')
    got = ""
    for ch in word:
        if ch in {".", ",", "?", "!", "'", '"'}:
            break
        got += ch.lower()
    return n == num_paragraphs and got == first_word.strip().lower()


def number_placeholders(value: str, *, num_placeholders: int) -> bool:
    return len(re.findall(r"\[.*?\]", value)) >= num_placeholders


def postscript(value: str, *, postscript_marker: str) -> bool:
    marker = postscript_marker.strip()
    if marker == "P.P.S":
        pattern = r"\s*p\.\s?p\.\s?s.*$"
    elif marker == "P.S.":
        pattern = r"\s*p\.\s?s\..*$"
    else:
        pattern = r"\s*" + re.escape(marker.lower()) + r".*$"
    return bool(re.findall(pattern, value.lower(), flags=re.MULTILINE))


def number_bullet_lists(value: str, *, num_bullets: int) -> bool:
    """Markdown bullets ``* item`` or ``- item``; exactly ``num_bullets`` of them."""
    stars = re.findall(r"^\s*\*[^\*].*$", value, flags=re.MULTILINE)
    dashes = re.findall(r"^\s*-.*$", value, flags=re.MULTILINE)
    return len(stars) + len(dashes) == num_bullets


CONSTRAINED_OPTIONS = ("My answer is yes.", "My answer is no.", "My answer is maybe.")


def constrained_response(value: str) -> bool:
    return any(opt in value.strip() for opt in CONSTRAINED_OPTIONS)


def number_highlighted_sections(value: str, *, num_highlights: int) -> bool:
    """Non-empty ``*highlight*`` or ``**highlight**`` spans, at least ``num_highlights``."""
    n = sum(1 for h in re.findall(r"\*[^\n\*]*\*", value) if h.strip("*").strip())
    n += sum(1 for h in re.findall(r"\*\*[^\n\*]*\*\*", value) if h.removeprefix("**").removesuffix("**").strip())
    return n >= num_highlights


def multiple_sections(value: str, *, section_spliter: str, num_sections: int) -> bool:
    """Sections introduced by ``<spliter> <number>`` (IFEval spells the kwarg ``spliter``)."""
    sections = re.split(r"\s?" + re.escape(section_spliter.strip()) + r"\s?\d+\s?", value)
    return len(sections) - 1 >= num_sections


def json_format(value: str) -> bool:
    value = (
        value.strip().removeprefix("```json").removeprefix("```Json").removeprefix("```JSON")
        .removeprefix("```").removesuffix("```").strip()
    )
    try:
        json.loads(value)
    except ValueError:
        return False
    return True


def title(value: str) -> bool:
    return any(t.lstrip("<").rstrip(">").strip() for t in re.findall(r"<<[^\n]+>>", value))


def two_responses(value: str) -> bool:
    """Two different responses separated by ``******``."""
    parts = value.split("******")
    valid = []
    for i, part in enumerate(parts):
        if not part.strip():
            if i not in (0, len(parts) - 1):
                return False
        else:
            valid.append(part)
    return len(valid) == 2 and valid[0].strip() != valid[1].strip()


def repeat_prompt(value: str, *, prompt_to_repeat: str) -> bool:
    return value.strip().lower().startswith(prompt_to_repeat.strip().lower())


def end_checker(value: str, *, end_phrase: str) -> bool:
    return value.strip().strip('"').lower().endswith(end_phrase.strip().lower())


def capital_word_frequency(value: str, *, capital_frequency: int, capital_relation: str) -> bool:
    return _compare(sum(1 for w in word_tokenize(value) if w.isupper()), capital_relation, capital_frequency)


def english_capital(value: str) -> bool:
    return value.isupper() and detect_language(value) in ("en", None)


def english_lowercase(value: str) -> bool:
    return value.islower() and detect_language(value) in ("en", None)


def no_comma(value: str) -> bool:
    return "," not in value


def quotation(value: str) -> bool:
    value = value.strip()
    return len(value) > 1 and value[0] == '"' and value[-1] == '"'


CHECKERS: dict[str, Callable[..., bool]] = {
    "keywords:existence": keywords_existence,
    "keywords:frequency": keywords_frequency,
    "keywords:forbidden_words": keywords_forbidden_words,
    "keywords:letter_frequency": keywords_letter_frequency,
    "language:response_language": language_response_language,
    "length_constraints:number_sentences": number_sentences,
    "length_constraints:number_paragraphs": number_paragraphs,
    "length_constraints:number_words": number_words,
    "length_constraints:nth_paragraph_first_word": nth_paragraph_first_word,
    "detectable_content:number_placeholders": number_placeholders,
    "detectable_content:postscript": postscript,
    "detectable_format:number_bullet_lists": number_bullet_lists,
    "detectable_format:constrained_response": constrained_response,
    "detectable_format:number_highlighted_sections": number_highlighted_sections,
    "detectable_format:multiple_sections": multiple_sections,
    "detectable_format:json_format": json_format,
    "detectable_format:title": title,
    "combination:two_responses": two_responses,
    "combination:repeat_prompt": repeat_prompt,
    "startend:end_checker": end_checker,
    "change_case:capital_word_frequency": capital_word_frequency,
    "change_case:english_capital": english_capital,
    "change_case:english_lowercase": english_lowercase,
    "punctuation:no_comma": no_comma,
    "startend:quotation": quotation,
}


def check_instruction(instruction_id: str, response: str, kwargs: dict[str, Any] | None = None) -> bool:
    """Strict check of one instruction. Unknown ids and missing/extra kwargs raise."""
    if instruction_id not in CHECKERS:
        raise ValueError(f"unknown IFEval instruction id {instruction_id!r}; known: {sorted(CHECKERS)}")
    args = {k: v for k, v in (kwargs or {}).items() if v is not None}
    if not response.strip():
        return False
    try:
        return bool(CHECKERS[instruction_id](response, **args))
    except TypeError as e:
        raise ValueError(f"IFEval instruction {instruction_id!r}: bad kwargs {args}: {e}") from None


def loose_variants(response: str) -> list[str]:
    """The 8 relaxations of IFEval's loose metric (first/last line removed, ``*`` removed)."""
    lines = response.split("\n")
    base = [response, "\n".join(lines[1:]).strip(), "\n".join(lines[:-1]).strip(), "\n".join(lines[1:-1]).strip()]
    return base + [r.replace("*", "") for r in base]


@dataclass(frozen=True)
class IFEvalExample:
    key: str
    prompt: str
    instruction_id_list: tuple[str, ...]
    kwargs: tuple[dict[str, Any], ...]


def load_ifeval(path: str | Path) -> list[IFEvalExample]:
    """Read IFEval JSONL; every instruction id is checked against the 25 known ones."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"IFEval file not found: {path}")
    out = []
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        row = json.loads(line)
        where = f"{path}:{lineno}"
        for k in ("prompt", "instruction_id_list", "kwargs"):
            if k not in row:
                raise ValueError(f"{where}: IFEval row has no {k!r} field")
        ids, kwargs = row["instruction_id_list"], row["kwargs"]
        if len(ids) != len(kwargs):
            raise ValueError(f"{where}: {len(ids)} instruction ids but {len(kwargs)} kwargs dicts")
        for i in ids:
            if i not in CHECKERS:
                raise ValueError(f"{where}: unknown IFEval instruction id {i!r}")
        out.append(IFEvalExample(str(row.get("key", lineno)), row["prompt"], tuple(ids), tuple(kwargs)))
    return out


def score_ifeval(example: IFEvalExample, response: str) -> dict[str, Any]:
    """Per-instruction strict and loose results for one response."""
    strict = [check_instruction(i, response, kw) for i, kw in zip(example.instruction_id_list, example.kwargs)]
    variants = [v for v in loose_variants(response) if v.strip()]
    loose = [
        any(check_instruction(i, v, kw) for v in variants)
        for i, kw in zip(example.instruction_id_list, example.kwargs)
    ]
    return {
        "key": example.key,
        "instruction_id_list": list(example.instruction_id_list),
        "follow_strict": strict,
        "follow_loose": loose,
        "prompt_strict": all(strict),
        "prompt_loose": all(loose),
    }


def ifeval_metrics(results: list[dict[str, Any]]) -> dict[str, float]:
    """Prompt- and instruction-level accuracy, strict and loose, from ``score_ifeval`` records."""
    if not results:
        raise ValueError("ifeval_metrics needs at least one result")
    n_inst = sum(len(r["follow_strict"]) for r in results)
    return {
        "prompt_strict": sum(r["prompt_strict"] for r in results) / len(results),
        "inst_strict": sum(sum(r["follow_strict"]) for r in results) / n_inst,
        "prompt_loose": sum(r["prompt_loose"] for r in results) / len(results),
        "inst_loose": sum(sum(r["follow_loose"]) for r in results) / n_inst,
    }
