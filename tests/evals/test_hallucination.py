"""Closed-domain hallucination detection on hand-written passages."""

from __future__ import annotations

import json

import pytest

from evalfakes import FakeModel
from instructrl.data.schemas import Prompt
from instructrl.evals.hallucination import (
    LexicalDetector, PanelHallucinationDetector, evaluate_hallucination, load_passage_prompts, passage_examples,
    unsupported_claims,
)
from instructrl.evals.lm import GenerationCache

PASSAGE = (
    "Marie Curie was born in Warsaw in 1867. She moved to Paris to study physics and shared the "
    "1903 Nobel Prize with Pierre Curie and Henri Becquerel. The award was worth 15,000 francs."
)


def kinds(response, source=PASSAGE):
    return [(c.kind, c.text) for c in unsupported_claims(source, response)]


def test_faithful_summary_has_no_unsupported_claims():
    assert kinds("Marie Curie, born in Warsaw in 1867, later shared the Nobel Prize in 1903 with Pierre Curie.") == []
    assert kinds("She won 15000 francs in Paris.") == []  # 15,000 == 15000; "She" starts a sentence


def test_invented_numbers_names_and_quotes_are_flagged():
    assert kinds("Curie was born in 1868.") == [("number", "1868")]
    assert kinds("She shared the prize with Albert Einstein.") == [("name", "Albert Einstein")]
    assert kinds("She studied chemistry in London.") == [("name", "London")]
    assert kinds('She said "science is beautiful" in 1903.') == [("quote", "science is beautiful")]
    assert kinds("It was shared by three people.") == [("number", "three")]  # the passage never says three


def test_enumerators_and_sentence_initial_words_are_not_claims():
    assert kinds("1. Warsaw\n2. Paris") == []
    assert kinds("Sure. Here is the answer: Warsaw.") == []


def test_instruction_text_counts_as_source():
    prompt = Prompt(id="q", text="In 3 sentences, summarize the passage about Poland's scientist.")
    r = LexicalDetector().detect(prompt, PASSAGE, "Poland's scientist Marie Curie was born in Warsaw.")
    assert r == {"hallucinated": False, "unsupported": []}


def test_rate_over_a_set_and_the_panel_detector(tmp_path):
    rows = [
        {"prompt": "Where was she born?", "passage": PASSAGE},
        {"prompt": "When did she win?", "passage": PASSAGE},
    ]
    p = tmp_path / "h.jsonl"
    p.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    examples = load_passage_prompts(p)
    model = FakeModel(respond=lambda t: "In Warsaw." if "born" in t else "In 1911, on the moon.")
    metrics, records = evaluate_hallucination(model, examples, LexicalDetector(), GenerationCache(tmp_path / "c"))
    assert metrics == {"rate": 0.5}
    assert records[1]["unsupported"] == [{"kind": "number", "text": "1911"}]

    class Panel:
        def rate(self, prompt, response):
            from instructrl.data.schemas import Rating

            return Rating(prompt=prompt, response=response, likert=3, flags={"hallucination": "moon" in response})

    metrics, records = evaluate_hallucination(model, examples, PanelHallucinationDetector(Panel()), GenerationCache(tmp_path / "c"))
    assert metrics == {"rate": 0.5} and records[1]["likert"] == 3


def test_loader_formats(tmp_path):
    p = tmp_path / "x.jsonl"
    rows = [
        {"id": "a", "text": "Summarize.", "category": "summarization", "metadata": {"passage": "Text A."}},
        {"id": "b", "text": "Write a poem.", "category": "generation", "metadata": {"passage": "ignored"}},
        {"id": "t", "instruction": "Extract the date.", "instances": [{"input": "Due 5 May.", "output": "5 May"}]},
        {"id": "u", "instruction": "Tell a joke.", "instances": [{"input": "", "output": "..."}]},
    ]
    p.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    ex = load_passage_prompts(p)
    assert [(e.prompt.id, e.passage) for e in ex] == [("a", "Text A."), ("t", "Due 5 May.")]
    assert ex[1].prompt.text == "Extract the date.\n\nDue 5 May."
    p.write_text(json.dumps(rows[1]) + "\n")
    with pytest.raises(ValueError, match="no prompt with a passage"):
        load_passage_prompts(p)


def test_against_the_task_grader_on_generated_closed_domain_prompts():
    """Independent oracle: instructrl.tasks' demonstrations stay within the passage, and its
    ``unsupported_entity`` perturbation adds facts that are not in it."""
    from instructrl.labelers import heldout_panel
    from instructrl.tasks import demonstrate, generate_prompts, perturb

    examples = passage_examples(generate_prompts(400, seed=1))
    assert len(examples) >= 30
    lexical, panel = LexicalDetector(), PanelHallucinationDetector(heldout_panel(0).labelers[0])
    good = [lexical.detect(e.prompt, e.passage, demonstrate(e.prompt))["hallucinated"] for e in examples]
    bad_responses = [perturb(e.prompt, demonstrate(e.prompt), seed=0, kinds=("unsupported_entity",)) for e in examples]
    bad = [lexical.detect(e.prompt, e.passage, r)["hallucinated"] for e, r in zip(examples, bad_responses)]
    assert sum(good) == 0
    # Misses are new facts in common words ("It also likes soup."), which a lexical check cannot see.
    assert sum(bad) / len(bad) >= 0.75
    assert sum(panel.detect(e.prompt, e.passage, r)["hallucinated"] for e, r in zip(examples, bad_responses)) >= 0.9 * len(bad)
