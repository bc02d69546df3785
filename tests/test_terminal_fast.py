"""The safe stream's fast tests skip a scan only when it could not have matched.

``neutralise``, ``redact_userinfo``, ``defuse_commands``, ``redact_key`` and the secret scan
each test their text before running their regex (a plan of 100,000 jobs writes 80 MB through
them, a run every string of every answer); what they give must stay what the regexes alone
give, for ASCII and other text, in any chunking.
"""

from __future__ import annotations

import io

import pytest

from orchestrator.spec.reserved import reserved_problem
from orchestrator.terminal import _UNSAFE, SafeStream, _escape, defuse_commands, neutralise
from orchestrator.wirecheck import (
    _KEY_LIKE,
    _URL_USERINFO,
    may_hold,
    redact_key,
    redact_userinfo,
    secret_pattern,
)

KEY = "sk-Live0123456789abcdefXYZ"
FILLER = '{"name": "img000-p0-mood0", "url": "https://cdn.example.com/000.png"}, ' * 2000
CONTROLS = [chr(c) for c in (*range(0, 9), *range(11, 32), 127, 0x85, 0x9B, 0x202E, 0x2028)]


@pytest.mark.parametrize("char", CONTROLS)
def test_every_control_character_is_escaped_in_long_ascii_and_other_text(char: str) -> None:
    for text in (FILLER + char + FILLER, "é" + FILLER + char):
        assert neutralise(text) == _UNSAFE.sub(_escape, text)
        assert char not in neutralise(text)


def test_text_without_control_characters_comes_back_unchanged() -> None:
    for text in (FILLER, FILLER + "\n\tlast", "prompt é ü 日本", ""):
        assert neutralise(text) == text


@pytest.mark.parametrize(
    "text",
    [
        "see https://user:pass@cdn.example.com/a.png now",
        FILLER + "postgresql://mjv:hunter2@db.example.com/mjv",
        "HTTPS://User:Pass@Example.com",
    ],
)
def test_url_credentials_are_removed_wherever_they_are(text: str) -> None:
    assert redact_userinfo(text) == _URL_USERINFO.sub(r"\1***@", text)
    assert "***@" in redact_userinfo(text)


def test_an_at_sign_or_a_scheme_alone_is_not_a_credential() -> None:
    for text in ("mail me@example.com", FILLER, "a://b c@d"):
        assert redact_userinfo(text) == _URL_USERINFO.sub(r"\1***@", text)


@pytest.mark.parametrize(
    "text",
    [
        FILLER + KEY + FILLER,
        FILLER + KEY.upper(),
        KEY.lower()[3:] + FILLER,  # the tail without its prefix
        "é " + KEY.swapcase(),
    ],
)
def test_the_key_is_removed_in_any_case_from_a_long_chunk(text: str) -> None:
    assert may_hold(text, KEY)
    sink = io.StringIO()
    stream = SafeStream(sink, [KEY])
    stream.write(text)
    stream.flush()
    assert sink.getvalue() == secret_pattern(KEY).sub("***", text)
    assert KEY.lower()[3:] not in sink.getvalue().lower()


def test_a_chunk_without_the_key_is_not_scanned_for_it() -> None:
    assert not may_hold(FILLER, KEY)
    assert not may_hold(FILLER + KEY[:-1], KEY)
    assert may_hold("\u017f" + FILLER, KEY)  # not ASCII (a long s): the regex decides


def test_commands_are_defused_in_long_text_and_across_writes() -> None:
    text = FILLER + "\n  ::error::x ##[group]"
    assert defuse_commands(text).endswith("\n  \\u003a:error::x #\\u0023[group]")
    assert defuse_commands(FILLER) == FILLER
    sink = io.StringIO()
    stream = SafeStream(sink)
    for part in (FILLER + "\n", ":", ":add-mask::k"):
        stream.write(part)
    stream.flush()
    assert "\n::" not in sink.getvalue()


@pytest.mark.parametrize(
    ("folder", "reason"),
    [
        ("Manifest.JSON", "a name mjv writes in the output folder"),
        ("spec.review.yaml", "a name mjv writes in the output folder"),
        ("x/EXT2-clip-0.mp4", "a name mjv writes in a job folder"),
        ("x/versions", "a name mjv writes in a job folder"),
        ("x/.hidden", "hidden or a temporary file's name"),
        ("x/a.PART", "hidden or a temporary file's name"),
    ],
)
def test_a_reserved_folder_gets_its_own_reason(folder: str, reason: str) -> None:
    assert (reserved_problem(folder, "spec") or "").endswith(reason)


def test_names_that_only_look_reserved_pass() -> None:
    for folder in ("clip-0", "versions2", "x/clip-0.mp4.bak", "spec.json", "a.partial"):
        assert reserved_problem(folder, "spec") is None


@pytest.mark.parametrize(
    "text",
    [
        "failed: " + KEY,
        "FAILED: " + KEY.upper(),
        "token SK-abcdef12 leaked",
        "é sk-abcdef12",
        "\u017fk-abcdef12",  # a long s: the regex's case folding, not str.lower's
        "no key in this answer",
        "sk-short",
    ],
)
def test_an_answer_string_loses_the_key_and_anything_key_shaped(text: str) -> None:
    expected = _KEY_LIKE.sub("sk-***", secret_pattern(KEY).sub("***", text))
    assert redact_key(text, KEY) == expected
