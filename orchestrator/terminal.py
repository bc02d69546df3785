"""Untrusted text on its way out: to a terminal, to a CI log, into markdown.

Text from a spec or a provider (job names, prompts, ``failReason``, URLs, error messages) may
hold escape sequences (colours, OSC 8 links, a title change), BEL, CR that rewrites a line, or
lines that a CI runner reads as commands (GitHub's ``::add-mask::``, ``::error ...::``, and
the older ``##[...]``). mjv guarantees that none of it acts:

- ``SafeStream`` wraps every stream the CLI hands to a command (installed in ``cli.main``).
  Each ``write`` escapes control characters (``neutralise``: C0 but newline and tab, DEL, C1,
  and the Unicode line separators and bidirectional overrides), breaks every ``##[`` and every
  line that would begin with ``::`` once leading blanks are trimmed, and removes the API key
  and the ``user:password@`` of URLs.
  The escapes are JSON's (``\\u001b``, ``\\r``), so JSON output stays valid and decodes to the
  same strings.
- mjv's OWN control sequences (the ``\\r`` and colours of a live progress line, the workflow
  commands of ``mjv validate --format github``) go through ``write_raw(stream, text)``, which
  calls ``SafeStream.write_raw`` and bypasses the escaping. Only console code of mjv calls it,
  and only with text it built itself; any untrusted part must first go through ``neutralise``
  (or ``annotation_data`` / ``annotation_property`` for a workflow command).
- ``one_line`` is for a field shown on one line (a prompt in ``mjv plan``): newlines escaped too.
- ``md_code`` and ``md_text`` put untrusted text into markdown (the pull-request plan).
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterable
from typing import TextIO

from orchestrator.wirecheck import may_hold, redact_userinfo, secret_pattern

# Control characters but newline and tab; DEL and C1; NEL's friends the Unicode line and
# paragraph separators; the bidirectional marks, embeddings, overrides and isolates.
_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]")
_UNSAFE_LINE = re.compile(f"{_UNSAFE.pattern[:-1]}\n]")
# The ASCII characters _UNSAFE leaves alone: deleting them from ASCII text leaves what it
# would escape (a C loop ten times faster than the regex's scan of 80 MB of plan JSON).
_SAFE_ASCII = bytes([9, 10, *range(32, 127)])
# GitHub's runner: "::" at the start of a line once leading blanks are trimmed, "##[" anywhere.
_COMMAND_START = re.compile(r"(^|\n)([^\S\n]*):(?=:)")
_OLD_COMMAND = "##["
# What starts markup in (GitHub-flavoured) markdown: code, emphasis, links and images, HTML
# and entities, table cells; plain punctuation like ":" or "->" stays as it is.
_MD_SPECIAL = re.compile(r"([\\`*_\[\]<&|~])")


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    return {"\r": "\\r", "\n": "\\n"}.get(char) or f"\\u{ord(char):04x}"


def neutralise(text: str) -> str:
    """``text`` with every control character escaped (newline and tab kept)."""
    if text.isascii() and not text.encode("ascii").translate(None, _SAFE_ASCII):
        return text
    return _UNSAFE.sub(_escape, text)


def one_line(text: str) -> str:
    """``text`` for a one-line field: control characters and newlines escaped."""
    return _UNSAFE_LINE.sub(_escape, text)


def defuse_commands(text: str, *, at_line_start: bool = True) -> str:
    """``text`` (already neutralised) with no line a CI runner would read as a command.

    ``at_line_start`` says whether ``text`` begins a line (else its first line continues one).
    """
    if "#" in text:  # a one-character scan is many times faster than replace's
        text = text.replace(_OLD_COMMAND, "#\\u0023[")
    if not at_line_start and "\n" not in text:  # one line, and not its start: nothing can begin
        return text
    if "::" not in text:  # what _COMMAND_START needs; the scan alone is slow on long text
        return text
    if at_line_start:
        return _COMMAND_START.sub(r"\1\2\\u003a", text)
    head, newline, rest = text.partition("\n")
    return head + newline + _COMMAND_START.sub(r"\1\2\\u003a", rest)


def write_raw(stream: TextIO, text: str) -> None:
    """Write mjv's own ``text`` (escape sequences, workflow commands) unescaped."""
    raw = getattr(stream, "write_raw", None)
    if raw is not None:
        raw(text)
    else:
        stream.write(text)


class SafeStream(io.TextIOBase):
    """A text stream that neutralises everything written to it but ``write_raw``."""

    def __init__(self, stream: TextIO, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self.stream = stream
        self._secrets = tuple(s for s in secrets if len(s) >= 8)
        self._line_start = True  # only blanks since the last newline
        self._held = ""  # a tail that may begin a command with the next write (":", "#", "##")

    def write(self, text: str) -> int:
        """Write ``text`` with control characters escaped and no CI command in it."""
        clean = redact_userinfo(neutralise(text))
        for secret in self._secrets:
            if may_hold(clean, secret):
                clean = secret_pattern(secret).sub("***", clean)
        clean = defuse_commands(self._held + clean, at_line_start=self._line_start)
        clean, self._held = _split_tail(clean, self._line_start)
        self._emit(clean)
        return len(text)

    def write_raw(self, text: str) -> int:
        """Write mjv's own ``text`` as it is (see the module docstring for who may)."""
        self._release()
        self.stream.write(text)
        self._line_start = True  # as if at a line start: the stricter reading
        return len(text)

    def flush(self) -> None:
        """Write out a held tail (escaped: what follows is unknown) and flush."""
        self._release()
        self.stream.flush()

    def isatty(self) -> bool:
        """Whether the wrapped stream is a terminal."""
        return bool(self.stream.isatty())

    def writable(self) -> bool:
        """Always."""
        return True

    def _emit(self, text: str) -> None:
        if not text:
            return
        self.stream.write(text)
        newline = text.rfind("\n")  # rsplit would copy a long line
        blank = not text[newline + 1 :].strip()
        self._line_start = blank and (newline >= 0 or self._line_start)

    def _release(self) -> None:
        held, self._held = self._held, ""
        self._emit(held.replace(":", "\\u003a").replace("#", "\\u0023"))


def _split_tail(text: str, line_start: bool) -> tuple[str, str]:
    """``text`` split before a tail that the next write could turn into a command."""
    for tail in ("##", "#"):
        if text.endswith(tail):
            return text[: -len(tail)], tail
    if text.endswith(":"):
        line = text[:-1].rsplit("\n", 1)
        if not line[-1].strip() and (len(line) > 1 or line_start):
            return text[:-1], ":"
    return text, ""


def annotation_data(text: str) -> str:
    """``text`` as the message of a GitHub workflow command (after the second ``::``)."""
    text = neutralise(text).replace("%", "%25")
    return text.replace("\r", "%0D").replace("\n", "%0A")


def annotation_property(text: str) -> str:
    """``text`` as a property value of a GitHub workflow command (``file=...``)."""
    return annotation_data(text).replace(":", "%3A").replace(",", "%2C")


def md_code(text: str) -> str:
    """``text`` as a markdown code span (in a table cell too) that nothing breaks out of."""
    text = one_line(text).replace("|", "\\|")
    longest = max((len(run) for run in re.findall("`+", text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith(("`", " ")) or text.endswith(("`", " ")) or longest else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def md_text(text: str) -> str:
    """``text`` as plain markdown (a table cell too): no markup, link, image nor HTML in it."""
    return _MD_SPECIAL.sub(r"\\\1", one_line(text))
