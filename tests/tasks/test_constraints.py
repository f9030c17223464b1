"""Every constraint checker on hand-written passing and failing responses."""

import pytest

from instructrl.tasks import constraints as C


def test_counting_rules():
    assert C.count_words("Don't stop, it's 5 o'clock.") == 5
    assert C.sentences("One. Two!  Three? four") == ["One.", "Two!", "Three?", "four"]
    assert C.count_sentences("") == 0
    assert C.list_items('["a", "b c"]') == ["a", "b c"]
    assert C.list_items("1. towel\n2) hat\n3. map") == ["towel", "hat", "map"]
    assert C.list_items("- towel\n* hat") == ["towel", "hat"]
    assert C.list_items("towel, hat and map") == ["towel", "hat", "map"]
    assert C.list_items("towel\nhat") == ["towel", "hat"]
    assert C.contains_word("The Fox ran.", "fox") and not C.contains_word("Foxes ran.", "fox")


@pytest.mark.parametrize("ctype,value,good,bad", [
    ("max_words", 3, "The fox eats.", "The fox eats mice."),
    ("min_words", 4, "The fox eats mice.", "The fox eats."),
    ("num_sentences", 2, "It eats. It sleeps!", "It eats. It sleeps. It runs."),
    ("max_sentences", 2, "It eats. It sleeps.", "It eats. It sleeps. It runs."),
    ("num_items", 3, "1. a\n2. b\n3. c", "1. a\n2. b"),
    ("format", "numbered_list", "1. towel\n2. hat", "- towel\n- hat"),
    ("format", "bullet_list", "- towel\n- hat", "towel, hat"),
    ("format", "json_list", '["towel", "hat"]', '{"items": ["towel"]}'),
    ("format", "comma_list", "towel, hat, map", "towel. hat, map"),
    ("json_object", "answer", '{"answer": "mice"}', '{"answer": ""}'),
    ("json_object", "label", '{"label": "positive"}', 'label: positive'),
    ("include_keywords", ["moon", "river"], "The moon over the river.", "The moon over the lake."),
    ("avoid_keywords", ["baker"], "A bakery opened.", "The baker smiled."),
    ("case", "lower", "all lowercase here.", "Not all lowercase."),
    ("case", "upper", "ALL CAPS, 100%.", "ALL CAPS but one word."),
    ("start_with", "Sure", "Sure. The fox eats mice.", "The fox eats mice. Sure."),
    ("start_with", "Answer:", "answer: mice", "Mice."),
    ("end_with", "Thank you", "Here it is. Thank you.", "Thank you. Here it is."),
    ("end_with", "The end.", "It slept. The end", "The end came at last."),
    ("no_commas", True, "No commas here.", "One, two."),
])
def test_checker_pass_and_fail(ctype, value, good, bad):
    c = {"type": ctype, "value": value}
    assert C.check(c, good), (ctype, good)
    assert not C.check(c, bad), (ctype, bad)


def test_every_constraint_type_is_tested_and_described():
    tested = {"max_words", "min_words", "num_sentences", "max_sentences", "num_items", "format", "json_object",
              "include_keywords", "avoid_keywords", "case", "start_with", "end_with", "no_commas"}
    assert set(C.CONSTRAINT_TYPES) == tested
    examples = {"format": "json_list", "case": "upper", "include_keywords": ["a", "b"], "avoid_keywords": ["c"],
                "json_object": "answer", "start_with": "Sure", "end_with": "Thank you", "no_commas": True}
    for t in C.CONSTRAINT_TYPES:
        text = C.describe({"type": t, "value": examples.get(t, 2)}, variant=1)
        assert text.endswith(".") and len(text.split()) >= 2


def test_case_needs_letters_and_bad_values_raise():
    assert not C.check_case("123", "lower")
    with pytest.raises(ValueError, match="title"):
        C.check_case("Abc", "title")
    with pytest.raises(ValueError, match="unknown constraint type 'nope'"):
        C.check({"type": "nope", "value": 1}, "x")
    with pytest.raises(ValueError, match="yaml"):
        C.check_format("x", "yaml")
