"""``scrub_answer``: the whole-text test that skips visiting each string says the same as
``scrub`` on every answer, escapes and other cases included."""

from __future__ import annotations

import json
import random

import pytest

from orchestrator.wirecheck import scrub, scrub_answer

KEY = "sk-Abcdefghijklmnop0123456789"


@pytest.mark.parametrize(
    "text",
    [
        '{"failReason": "bad key sk-Abcdefghijklmnop0123456789"}',
        '{"failReason": "bad key SK-ABCDEFGHIJKLMNOP0123456789"}',
        '{"failReason": "tail Abcdefghijklmnop0123456789 only"}',
        '{"failReason": "\\u0073k-Abcdefghijklmnop0123456789"}',  # an escaped "s"
        '{"failReason": "sk\\u002dAbcdefghijklmnop0123456789"}',  # an escaped "-"
        '{"failReason": "\\u0073k-\\u0041bcdefghijklmnop0123456789"}',  # neither in clear
        '{"failReason": "\\u0073k-zzzzzzzzzzzz"}',  # key-shaped once decoded
        '{"failReason": "other sk-zzzzzzzzzzzz key"}',
        '{"k\\u00e9y": ["\\u00e9 sk-Abcdefghijklmnop0123456789"]}',
        '{"description": "caf\u00e9 sk-Abcdefghijklmnop0123456789"}',
        '[{"id": "1", "status": "SUCCESS", "videoUrl": "https://cdn.example.com/a.mp4"}]',
    ],
)
def test_same_as_scrub(text: str) -> None:
    value = json.loads(text)
    assert scrub_answer(text, value, KEY) == scrub(value, KEY)


def test_an_answer_without_keys_is_returned_as_parsed() -> None:
    text = json.dumps([{"id": str(n), "status": "IN_PROGRESS", "progress": "5%"} for n in range(9)])
    value = json.loads(text)
    assert scrub_answer(text, value, KEY) is value


def test_same_as_scrub_on_random_answers() -> None:
    # Strings made of pieces of the key, its prefix, escapes and non-ASCII letters.
    pieces = ["sk-", "SK-", "s", "k", "-", KEY[3:12], KEY[12:], KEY[3:], "\\u0073", "\\n"]
    pieces += ["\\\\", "\u00e9", "a", " ", "\\u002d", "\\u0041", "zzzzzz"]
    rng = random.Random(18)
    for _ in range(3000):
        strings = ["".join(rng.choices(pieces, k=rng.randint(0, 6))) for _ in range(3)]
        text = "{" + ", ".join(f'"f{n}": "{s}"' for n, s in enumerate(strings)) + "}"
        value = json.loads(text)
        assert scrub_answer(text, value, KEY) == scrub(value, KEY), text
        assert scrub_answer(text, value, "") == scrub(value, ""), text
