"""IFEval instruction checkers: each instruction followed and broken, loose variants, kwargs, the data file."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from evalscope.scoring.instructions import INSTRUCTION_IDS, evaluate, follows, loose_variants

REPO = Path(__file__).resolve().parents[1]
DATA_DIR = Path(os.environ.get("EVALSCOPE_DATASET_DIR", Path(__file__).resolve().parents[2] / "shared" / "data"))
IFEVAL_FILE = DATA_DIR / "ifeval" / "input_data.jsonl"

GERMAN = "Heute ist ein schöner Tag, und wir gehen mit den Kindern in den Park, um dort zu spielen."
ENGLISH = "Today is a beautiful day, and we are going to the park with the children to play there."

# (instruction id, kwargs, response, followed)
CASES: list[tuple[str, dict[str, Any], str, bool]] = [
    ("keywords:existence", {"keywords": ["Banana", "split"]}, "I ate a BANANA split.", True),
    ("keywords:existence", {"keywords": ["banana", "split"]}, "I ate a banana.", False),
    # Keywords match inside words, as the reference's unanchored regex does.
    ("keywords:existence", {"keywords": ["art"]}, "Start here.", True),
    ("keywords:frequency", {"keyword": "cat", "frequency": 3, "relation": "at least"}, "Cat, cat and CAT.", True),
    ("keywords:frequency", {"keyword": "cat", "frequency": 3, "relation": "at least"}, "Cat and cat.", False),
    ("keywords:frequency", {"keyword": "cat", "frequency": 2, "relation": "less than"}, "One cat.", True),
    ("keywords:frequency", {"keyword": "cat", "frequency": 2, "relation": "less than"}, "A cat, a cat.", False),
    ("keywords:forbidden_words", {"forbidden_words": ["rain", "snow"]}, "It was sunny and brainy.", True),
    ("keywords:forbidden_words", {"forbidden_words": ["rain", "snow"]}, "Then came the Snow.", False),
    ("keywords:letter_frequency", {"letter": "z", "let_frequency": 3, "let_relation": "at least"}, "Zz z", True),
    ("keywords:letter_frequency", {"letter": "z", "let_frequency": 3, "let_relation": "at least"}, "Zz", False),
    ("keywords:letter_frequency", {"letter": "a", "let_frequency": 2, "let_relation": "less than"}, "Hi a", True),
    ("keywords:letter_frequency", {"letter": "!", "let_frequency": 2, "let_relation": "at least"}, "Hi! Yo!", True),
    ("language:response_language", {"language": "de"}, GERMAN, True),
    ("language:response_language", {"language": "de"}, ENGLISH, False),
    # langdetect finds no features in digits alone; the reference counts that as followed.
    ("language:response_language", {"language": "de"}, "12345 67890", True),
    (
        "length_constraints:number_sentences",
        {"num_sentences": 3, "relation": "at least"},
        "I ran. You sat? We won!",
        True,
    ),
    ("length_constraints:number_sentences", {"num_sentences": 3, "relation": "at least"}, "Mr. Smith left. Ok", False),
    (
        "length_constraints:number_sentences",
        {"num_sentences": 2, "relation": "less than"},
        "It costs 3.5 dollars.",
        True,
    ),
    ("length_constraints:number_sentences", {"num_sentences": 2, "relation": "less than"}, "One. Two.", False),
    ("length_constraints:number_paragraphs", {"num_paragraphs": 2}, "First part.\n***\nSecond part.", True),
    ("length_constraints:number_paragraphs", {"num_paragraphs": 2}, "***\nFirst.\n***\nSecond.\n***", True),
    ("length_constraints:number_paragraphs", {"num_paragraphs": 2}, "First.\n\nSecond.", False),
    # An empty paragraph between two dividers fails the instruction outright.
    ("length_constraints:number_paragraphs", {"num_paragraphs": 2}, "First.\n***\n***\nSecond.", False),
    ("length_constraints:number_words", {"num_words": 5, "relation": "at least"}, "don't stop-me now", True),
    ("length_constraints:number_words", {"num_words": 6, "relation": "at least"}, "don't stop-me now", False),
    ("length_constraints:number_words", {"num_words": 3, "relation": "less than"}, "Two words.", True),
    (
        "length_constraints:nth_paragraph_first_word",
        {"num_paragraphs": 2, "nth_paragraph": 2, "first_word": "Summary"},
        'Intro text.\n\n"Summary, in short: done.',
        True,
    ),
    (
        "length_constraints:nth_paragraph_first_word",
        {"num_paragraphs": 2, "nth_paragraph": 2, "first_word": "summary"},
        "Intro text.\n\nIn summary: done.",
        False,
    ),
    (
        "length_constraints:nth_paragraph_first_word",
        {"num_paragraphs": 3, "nth_paragraph": 2, "first_word": "summary"},
        "Intro text.\n\nSummary: done.",
        False,
    ),
    ("detectable_content:number_placeholders", {"num_placeholders": 2}, "Dear [name], at [address].", True),
    ("detectable_content:number_placeholders", {"num_placeholders": 2}, "Dear [name], at home.", False),
    ("detectable_content:postscript", {"postscript_marker": "P.S."}, "Bye.\n\np. s. Call me.", True),
    ("detectable_content:postscript", {"postscript_marker": "P.S."}, "Bye.\n\nPS Call me.", False),
    ("detectable_content:postscript", {"postscript_marker": "P.P.S"}, "Bye.\nP.P.S Later.", True),
    ("detectable_format:number_bullet_lists", {"num_bullets": 3}, "* one\n* two\n- three", True),
    ("detectable_format:number_bullet_lists", {"num_bullets": 3}, "* one\n** bold\n- three", False),
    ("detectable_format:constrained_response", {}, "Well... My answer is maybe.", True),
    ("detectable_format:constrained_response", {}, "My answer is: yes.", False),
    ("detectable_format:number_highlighted_sections", {"num_highlights": 2}, "*one* and **two**", True),
    ("detectable_format:number_highlighted_sections", {"num_highlights": 2}, "*one* and * * and **", False),
    (
        "detectable_format:multiple_sections",
        {"section_spliter": "Section", "num_sections": 2},
        "Section 1\na\nSection 2\nb",
        True,
    ),
    (
        "detectable_format:multiple_sections",
        {"section_spliter": "Section", "num_sections": 2},
        "Section 1\na\nSECTION 2\nb",
        False,
    ),
    ("detectable_format:json_format", {}, '```json\n{"a": [1, 2]}\n```', True),
    ("detectable_format:json_format", {}, '```JSON\n{"a": 1}\n```', True),
    ("detectable_format:json_format", {}, 'Here: {"a": 1}', False),
    ("detectable_format:title", {}, "<<My Title>>\nText.", True),
    ("detectable_format:title", {}, "<< >>\nText.", False),
    ("detectable_format:title", {}, "<<My\nTitle>>", False),
    ("combination:two_responses", {}, "First answer.\n******\nSecond answer.", True),
    ("combination:two_responses", {}, "Same.\n******\nSame.", False),
    ("combination:two_responses", {}, "A.\n******\n******\nB.", False),
    ("combination:repeat_prompt", {"prompt_to_repeat": "Write a poem."}, "  write a POEM. Roses are red.", True),
    ("combination:repeat_prompt", {"prompt_to_repeat": "Write a poem."}, "Sure! Write a poem.", False),
    ("startend:end_checker", {"end_phrase": "Any other questions?"}, 'Done. any other questions?"  ', True),
    ("startend:end_checker", {"end_phrase": "Any other questions?"}, "Any other questions? Bye.", False),
    (
        "change_case:capital_word_frequency",
        {"capital_frequency": 4, "capital_relation": "at least"},
        "I DON'T KNOW.",
        True,
    ),
    ("change_case:capital_word_frequency", {"capital_frequency": 2, "capital_relation": "less than"}, "I know.", True),
    (
        "change_case:capital_word_frequency",
        {"capital_frequency": 2, "capital_relation": "less than"},
        "I SAW IT.",
        False,
    ),
    ("change_case:english_capital", {}, ENGLISH.upper(), True),
    ("change_case:english_capital", {}, ENGLISH, False),
    ("change_case:english_capital", {}, GERMAN.upper(), False),
    ("change_case:english_lowercase", {}, ENGLISH.lower(), True),
    ("change_case:english_lowercase", {}, ENGLISH, False),
    ("change_case:english_lowercase", {}, GERMAN.lower(), False),
    ("punctuation:no_comma", {}, "No commas here. None at all.", True),
    ("punctuation:no_comma", {}, "One, here.", False),
    ("startend:quotation", {}, '  "Wrapped in quotes."\n', True),
    ("startend:quotation", {}, '"Not closed.', False),
    ("startend:quotation", {}, '"', False),
]


@pytest.mark.parametrize(("instruction_id", "kwargs", "response", "followed"), CASES)
def test_checker_verdict(instruction_id: str, kwargs: dict[str, Any], response: str, followed: bool) -> None:
    assert follows(instruction_id, kwargs, response, prompt="unused") is followed


def test_every_instruction_has_a_followed_and_a_broken_case() -> None:
    assert len(INSTRUCTION_IDS) == len(set(INSTRUCTION_IDS)) == 25
    for instruction_id in INSTRUCTION_IDS:
        verdicts = {followed for case_id, _, _, followed in CASES if case_id == instruction_id}
        assert verdicts == {True, False}, instruction_id


def test_a_blank_response_follows_nothing() -> None:
    # Even instructions a blank text would pass (no commas, few words) fail, as in the reference.
    for response in ("", "  \n "):
        assert not follows("punctuation:no_comma", {}, response, prompt="p")
        assert not follows("length_constraints:number_words", {"num_words": 9, "relation": "less than"}, response, "p")


def _sentence_count(text: str) -> int:
    """The count the checker sees: the largest n for which "at least n sentences" holds."""
    kwargs = [{"num_sentences": n, "relation": "at least"} for n in range(1, 10)]
    return sum(follows("length_constraints:number_sentences", k, text, "p") for k in kwargs)


def test_sentence_counting_follows_punkt() -> None:
    assert _sentence_count("Dr. Who met Mrs. Jones in the U.S. today.") == 1  # abbreviations of the English model
    assert _sentence_count("It rose 2.5 percent. Then it fell.") == 2  # no split inside a decimal
    assert _sentence_count("Fruit, e.g. apples, are good.") == 2  # "e.g" is no abbreviation of the model
    assert _sentence_count("It ended. then it began.") == 2  # Punkt splits before a lowercase word too
    assert _sentence_count('He said "Stop." Then he left! Why? Nobody knows...') == 4
    assert not follows(
        "length_constraints:number_sentences", {"num_sentences": 2, "relation": "less than"}, "Go. Stop.", ""
    )


def test_loose_variants_are_the_references_eight_in_order() -> None:
    variants = loose_variants("Sure:\n*body*\nBye")
    # The response, it without asterisks, then first / last / both lines cut, and those without asterisks.
    assert variants == [
        *["Sure:\n*body*\nBye", "Sure:\nbody\nBye"],
        *["*body*\nBye", "Sure:\n*body*", "*body*"],
        *["body\nBye", "Sure:\nbody", "body"],
    ]


def test_loose_passes_what_strict_fails_after_a_preamble_line() -> None:
    response = 'Sure, here it is:\n"A wrapped answer, with commas."'
    strict, loose = evaluate("p", ["startend:quotation", "punctuation:no_comma"], [{}, {}], response)
    assert strict == [False, False]
    assert loose == [True, False]


def test_loose_removes_asterisks() -> None:
    response = "**<<Title>>**\nBody"
    strict, loose = evaluate("p", ["detectable_format:title", "startend:quotation"], [{}, {}], response)
    assert (strict, loose) == ([True, False], [True, False])
    _, loose = evaluate("p", ["keywords:existence"], [{"keywords": [r"^Body$"]}], "*Body*")
    assert loose == [True]


def test_none_kwargs_are_dropped_and_unknown_names_refused() -> None:
    kwargs = {"num_highlights": 1, "relation": None, "keywords": None}
    assert follows("detectable_format:number_highlighted_sections", kwargs, "*hi*", "p")
    with pytest.raises(ValueError, match="num_words"):
        follows("detectable_format:number_highlighted_sections", {"num_highlights": 1, "num_words": 3}, "*a*", "p")
    with pytest.raises(ValueError, match="num_highlights"):
        follows("detectable_format:number_highlighted_sections", {"num_highlights": None}, "*a*", "p")
    with pytest.raises(ValueError, match="relation"):
        follows("length_constraints:number_words", {"num_words": 3, "relation": "at most"}, "a b", "p")


def test_an_unknown_instruction_id_is_an_error_naming_it() -> None:
    with pytest.raises(ValueError, match="keywords:nonexistent"):
        follows("keywords:nonexistent", {}, "text", "p")
    with pytest.raises(ValueError, match="2 instruction ids but 1 kwargs"):
        evaluate("p", ["punctuation:no_comma", "startend:quotation"], [{}], "text")


def test_repeat_prompt_needs_the_request_to_repeat() -> None:
    with pytest.raises(ValueError, match="prompt_to_repeat"):
        follows("combination:repeat_prompt", {"prompt_to_repeat": None}, "Say hi. Hi!", prompt="Say hi.")


@pytest.mark.parametrize(("instruction_id", "kwargs", "culprit"), [
    ("length_constraints:number_words", {"num_words": "300", "relation": "at least"}, "must be an integer"),
    ("length_constraints:number_words", {"num_words": 300, "relation": "at most"}, "relation must be one of"),
    ("keywords:existence", {"keywords": []}, "non-empty strings"),
    ("keywords:letter_frequency", {"letter": "", "let_frequency": 2, "let_relation": "at least"}, "non-empty"),
    ("detectable_format:title", {"num_words": 3}, "unexpected kwargs"),
])
def test_validate_names_a_bad_kwarg_before_any_reply(instruction_id: str, kwargs: dict, culprit: str) -> None:
    from evalscope.scoring.instructions import validate

    with pytest.raises(ValueError, match=culprit):
        validate(instruction_id, kwargs)


def test_importing_and_checking_open_no_socket() -> None:
    script = textwrap.dedent(
        """
        import socket
        import sys

        class Refused(socket.socket):
            def __init__(self, *args, **kwargs):
                raise RuntimeError("a socket was opened")

        def refuse(*args, **kwargs):
            raise RuntimeError("the network was used")

        socket.socket = Refused
        socket.create_connection = refuse
        socket.getaddrinfo = refuse

        from evalscope.scoring.instructions import follows

        # The optional libraries load only when a checker needs them, keeping `import evalscope` fast.
        assert "nltk" not in sys.modules and "langdetect" not in sys.modules

        assert follows("language:response_language", {"language": "en"}, "This is plainly English text.", "p")
        sentences = {"num_sentences": 2, "relation": "at least"}
        assert follows("length_constraints:number_sentences", sentences, "Go. Stop.", "p")
        capitals = {"capital_frequency": 1, "capital_relation": "at least"}
        assert follows("change_case:capital_word_frequency", capitals, "I SEE.", "p")
        """
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, cwd=REPO)
    assert result.returncode == 0, result.stderr


@pytest.mark.skipif(not IFEVAL_FILE.is_file(), reason=f"IFEval data not found at {IFEVAL_FILE}")
def test_every_instruction_and_kwargs_of_the_data_file_is_accepted() -> None:
    records = [json.loads(line) for line in IFEVAL_FILE.read_text(encoding="utf-8").splitlines() if line.strip()]
    used = set()
    for record in records:
        strict, loose = evaluate(record["prompt"], record["instruction_id_list"], record["kwargs"], "Some answer.")
        assert len(strict) == len(loose) == len(record["instruction_id_list"])
        used.update(record["instruction_id_list"])
    assert used == set(INSTRUCTION_IDS)
