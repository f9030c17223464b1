"""Every IFEval checker on hand-written passing and failing responses, plus the strict /
loose aggregation and the offline text utilities."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from instructrl.evals.ifeval import CHECKERS, check_instruction, ifeval_metrics, load_ifeval, loose_variants, score_ifeval
from instructrl.evals.textstats import count_sentences, count_words, detect_language, split_sentences

DATA = Path(__file__).parent / "data"

# (instruction id, kwargs, passing response, failing response)
CASES = [
    ("keywords:existence", {"keywords": ["river", "Moon"]}, "The moon shone on the River.", "The moon shone."),
    ("keywords:frequency", {"keyword": "cat", "frequency": 3, "relation": "at least"}, "cat cat Cat", "cat cat dog"),
    ("keywords:frequency", {"keyword": "cat", "frequency": 2, "relation": "less than"}, "one cat here", "cat and cat"),
    ("keywords:forbidden_words", {"forbidden_words": ["bad", "ugly"]}, "A badger is fine.", "That is Bad."),
    ("keywords:letter_frequency", {"letter": "z", "let_frequency": 2, "let_relation": "at least"}, "Zoo pizza", "Zoo only"),
    ("language:response_language", {"language": "es"}, "El perro es muy grande y la casa es de mi madre.", "The dog is very big and the house is my mother's."),
    ("length_constraints:number_sentences", {"num_sentences": 3, "relation": "less than"}, "One. Two.", "One. Two! Three?"),
    ("length_constraints:number_sentences", {"num_sentences": 2, "relation": "at least"}, "Dr. Smith came. He left.", "Dr. Smith came home."),
    ("length_constraints:number_paragraphs", {"num_paragraphs": 2}, "First part.\n***\nSecond part.", "First.\n***\n***\nSecond."),
    ("length_constraints:number_words", {"num_words": 5, "relation": "less than"}, "only four words here", "these are five words here"),
    ("length_constraints:nth_paragraph_first_word", {"num_paragraphs": 2, "nth_paragraph": 2, "first_word": "then"},
     "Intro text.\n\n\"Then, more.", "Intro text.\n\nAfter that, more."),
    ("detectable_content:number_placeholders", {"num_placeholders": 2}, "Dear [name], at [address].", "Dear [name], hello."),
    ("detectable_content:postscript", {"postscript_marker": "P.S."}, "Body text.\nP.S. see you", "Body text. PS see you"),
    ("detectable_content:postscript", {"postscript_marker": "P.P.S"}, "Body.\np.p.s. extra", "Body.\nP.S. extra"),
    ("detectable_format:number_bullet_lists", {"num_bullets": 2}, "* one\n* two", "* one\n* two\n- three"),
    ("detectable_format:constrained_response", {}, "My answer is maybe.", "Maybe, I think."),
    ("detectable_format:number_highlighted_sections", {"num_highlights": 2}, "*first* and **second**", "*first* and ** **"),
    ("detectable_format:multiple_sections", {"section_spliter": "SECTION", "num_sections": 2},
     "SECTION 1\nIntro\nSECTION 2\nBody", "SECTION 1\nIntro only"),
    ("detectable_format:json_format", {}, '```json\n{"a": 1}\n```', "{a: 1}"),
    ("detectable_format:title", {}, "<<A Title>>\nText", "<< >>\nText"),
    ("combination:two_responses", {}, "Answer one.\n******\nAnswer two.", "Same.\n******\nSame."),
    ("combination:repeat_prompt", {"prompt_to_repeat": "Write a poem."}, "write a poem. Roses are red.", "Roses are red."),
    ("startend:end_checker", {"end_phrase": "Any other questions?"}, 'Done. "Any other questions?"', "Any other questions? Done."),
    ("change_case:capital_word_frequency", {"capital_frequency": 2, "capital_relation": "at least"}, "BIG and LOUD", "Big and LOUD"),
    ("change_case:capital_word_frequency", {"capital_frequency": 2, "capital_relation": "less than"}, "only ONE", "TWO CAPS"),
    ("change_case:english_capital", {}, "THIS IS ALL IN CAPITALS AND IT IS ENGLISH.", "THIS IS mostly CAPITALS."),
    ("change_case:english_lowercase", {}, "this is all lower case and it is english.", "This is not."),
    ("punctuation:no_comma", {}, "No commas here.", "Well, a comma."),
    ("startend:quotation", {}, '"Wrapped in quotes."', 'Not "wrapped" at all'),
]


def test_every_one_of_the_25_instruction_types_is_covered():
    assert len(CHECKERS) == 25
    assert {c[0] for c in CASES} == set(CHECKERS)


@pytest.mark.parametrize("iid,kwargs,good,bad", CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_checker_passes_and_fails(iid, kwargs, good, bad):
    assert check_instruction(iid, good, kwargs) is True
    assert check_instruction(iid, bad, kwargs) is False


def test_none_kwargs_are_ignored_and_bad_ones_raise():
    assert check_instruction("punctuation:no_comma", "ok", {"keywords": None, "num_words": None})
    with pytest.raises(ValueError, match="unknown IFEval instruction id"):
        check_instruction("keywords:nope", "x", {})
    with pytest.raises(ValueError, match="bad kwargs"):
        check_instruction("punctuation:no_comma", "x", {"num_words": 3})
    with pytest.raises(ValueError, match="relation must be"):
        check_instruction("length_constraints:number_words", "x", {"num_words": 3, "relation": "more than"})


def test_empty_response_follows_nothing():
    assert check_instruction("punctuation:no_comma", "   ", {}) is False


def test_loose_variants_drop_first_last_lines_and_asterisks():
    v = loose_variants("Sure!\n**Body**\nHope this helps")
    assert v[:4] == ["Sure!\n**Body**\nHope this helps", "**Body**\nHope this helps", "Sure!\n**Body**", "**Body**"]
    assert v[7] == "Body" and len(v) == 8


def test_strict_and_loose_metrics_by_hand(tmp_path):
    rows = [json.loads(x) for x in (DATA / "ifeval_sample.jsonl").read_text().splitlines()]
    assert len(rows) == 3
    examples = load_ifeval(DATA / "ifeval_sample.jsonl")
    responses = [
        # 1: no comma (ok) + lowercase (fails strict because of the "Sure:" first line; ok loose)
        "Sure:\nhere is a short answer without any punctuation marks except this.",
        # 2: quotation fails both ways
        "no quotes here",
        # 3: title ok, 2 bullets ok
        "<<Plan>>\n* eat\n* sleep",
    ]
    results = [score_ifeval(e, r) for e, r in zip(examples, responses)]
    assert results[0]["follow_strict"] == [True, False] and results[0]["follow_loose"] == [True, True]
    m = ifeval_metrics(results)
    # prompts: strict 1/3 (only #3), loose 2/3; instructions (5 total): strict 3/5, loose 4/5
    assert m == pytest.approx({"prompt_strict": 1 / 3, "inst_strict": 3 / 5, "prompt_loose": 2 / 3, "inst_loose": 4 / 5})


def test_load_ifeval_rejects_unknown_ids_and_mismatched_kwargs(tmp_path):
    p = tmp_path / "bad.jsonl"
    p.write_text(json.dumps({"key": 1, "prompt": "x", "instruction_id_list": ["a:b"], "kwargs": [{}]}) + "\n")
    with pytest.raises(ValueError, match="bad.jsonl:1: unknown IFEval instruction id 'a:b'"):
        load_ifeval(p)
    p.write_text(json.dumps({"key": 1, "prompt": "x", "instruction_id_list": ["punctuation:no_comma"], "kwargs": []}) + "\n")
    with pytest.raises(ValueError, match="1 instruction ids but 0 kwargs"):
        load_ifeval(p)


def test_sentence_splitter_and_word_counter():
    assert split_sentences("Mr. Smith went to Washington. He met J. R. Tolkien! Did he? Yes.") == [
        "Mr. Smith went to Washington.", "He met J. R. Tolkien!", "Did he?", "Yes."]
    assert count_sentences('He said "stop." Then left') == 2
    assert count_sentences("A list\nwithout periods") == 1
    assert count_words("Don't stop-now, 3 times!") == 6  # Don, t, stop, now, 3, times


@pytest.mark.parametrize("text,lang", [
    ("The quick brown fox jumps over the lazy dog and it is happy.", "en"),
    ("Le chat est sur la table et il dort dans la maison.", "fr"),
    ("Der Hund ist nicht in dem Haus und die Katze schläft.", "de"),
    ("O menino não quer ir para a escola com os amigos.", "pt"),
    ("Il gatto è sulla tavola e non vuole scendere per la cena.", "it"),
    ("Это очень хорошая книга, и я её читаю.", "ru"),
    ("Це дуже гарна книга, і я її читаю.", "uk"),
    ("これは日本語の文章です。", "ja"),
    ("यह एक अच्छी किताब है और मैं इसे पढ़ रहा हूँ।", "hi"),
    ("هذا كتاب جيد في المكتبة التي على الطريق", "ar"),
    ("이것은 한국어 문장입니다", "ko"),
])
def test_language_identifier(text, lang):
    assert detect_language(text) == lang


def test_language_identifier_without_letters_is_undetermined():
    assert detect_language("123 !!") is None
