"""Progress output in each mode: terminal, CI log lines, JSON lines, quiet."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from orchestrator.engine.progress import (
    GuardedStream,
    JsonProgress,
    LogProgress,
    Progress,
    QuietProgress,
    Snapshot,
    TtyProgress,
    make_progress,
)

START = Snapshot(total=10, done=0, in_flight=0, failed=0, spent=0.0)
MID = Snapshot(total=10, done=3, in_flight=2, failed=1, spent=1.8, reserved=1.2)
MID_LINE = "mjv: 3/10 done, 2 in flight, 1 failed, spent 1.80 (+1.20 reserved)"
END = Snapshot(total=10, done=9, in_flight=0, failed=1, spent=5.4)


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class TtyStream(io.StringIO):
    def isatty(self) -> bool:
        return True


def _make(stream: io.StringIO, clock: FakeClock, **kwargs: bool) -> Progress:
    options = {"quiet": False, "json_log": False, **kwargs}
    return make_progress(stream, clock=clock, interval=5.0, **options)


@pytest.mark.parametrize(
    ("kwargs", "stream", "kind"),
    [
        ({"json_log": True}, io.StringIO(), JsonProgress),
        ({"json_log": True, "quiet": True}, TtyStream(), JsonProgress),
        ({"quiet": True}, TtyStream(), QuietProgress),
        ({}, TtyStream(), TtyProgress),
        ({}, io.StringIO(), LogProgress),
        ({"is_tty": True}, io.StringIO(), TtyProgress),
        ({"is_tty": False}, TtyStream(), LogProgress),
    ],
)
def test_make_progress_picks_the_mode(
    kwargs: dict[str, bool], stream: io.StringIO, kind: type
) -> None:
    assert type(_make(stream, FakeClock(), **kwargs)) is kind


def test_tty_rewrites_one_live_line() -> None:
    stream = io.StringIO()
    progress = make_progress(stream, quiet=False, json_log=False, is_tty=True)
    progress.update(START)
    progress.update(MID)
    progress.update(MID)  # unchanged: not redrawn
    out = stream.getvalue()
    assert "\n" not in out
    assert out.count("\r") == 2
    assert out.rsplit("\r\x1b[K", 1)[1].startswith(
        "mjv: 3/10 done · 2 in flight · 0 queued · 1 failed · spent 1.80 (+1.20 reserved) · ETA "
    )


def test_tty_event_goes_above_the_live_line() -> None:
    stream = io.StringIO()
    progress = TtyProgress(stream, FakeClock())
    progress.update(MID)
    progress.event("failed", job="shoe-01", reason="Image denied")
    out = stream.getvalue()
    last = out.rsplit("\r\x1b[K", 1)[1]
    assert last.startswith('mjv: failed job=shoe-01 reason="Image denied"\nmjv: 3/10 done · ')


def test_tty_close_replaces_the_live_line_with_the_summary() -> None:
    stream = io.StringIO()
    progress = make_progress(stream, quiet=False, json_log=False, is_tty=True)
    progress.update(MID)
    progress.close(END)
    assert stream.getvalue().endswith("\r\x1b[Kmjv: 9/10 done, 0 in flight, 1 failed, spent 5.40\n")


def test_log_lines_at_most_every_interval() -> None:
    stream = io.StringIO()
    clock = FakeClock()
    progress = _make(stream, clock)
    progress.update(START)  # first one is printed at once
    clock.now += 4.9
    progress.update(MID)  # too soon
    clock.now += 0.1
    progress.update(MID)
    clock.now += 1.0
    progress.update(END)  # too soon
    progress.event("retry", job="shoe-02", attempt=2, wait=3.5)  # events are never throttled
    progress.close(END)
    assert stream.getvalue().splitlines() == [
        "mjv: 0/10 done, 0 in flight, 0 failed, spent 0.00",
        MID_LINE,
        "mjv: retry job=shoe-02 attempt=2 wait=3.5",
        "mjv: 9/10 done, 0 in flight, 1 failed, spent 5.40",
    ]
    assert "\r" not in stream.getvalue()
    assert "\x1b" not in stream.getvalue()


def test_json_lines_for_events_snapshots_and_summary() -> None:
    stream = io.StringIO()
    clock = FakeClock()
    progress = _make(stream, clock, json_log=True)
    progress.update(START)
    clock.now += 1.0
    progress.update(MID)  # throttled
    progress.event("in_doubt", job="shoe 03", task=None)
    clock.now += 5.0
    progress.update(MID)
    progress.close(END)
    records = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert [r["event"] for r in records] == ["progress", "in_doubt", "progress", "summary"]
    assert records[0] == {
        "event": "progress",
        "total": 10,
        "done": 0,
        "in_flight": 0,
        "failed": 0,
        "spent": 0.0,
        "reserved": 0.0,
        "queued": 0,
        "unfinished": 0,
        "already_done": 0,
        "currency": "",
        "elapsed": 0.0,
    }
    assert records[1] == {"event": "in_doubt", "job": "shoe 03", "task": None, "elapsed": 1.0}
    assert records[2]["done"] == 3
    assert records[2]["elapsed"] == 6.0
    assert records[3]["spent"] == 5.4


def test_json_event_kind_wins_over_a_field_named_event() -> None:
    stream = io.StringIO()
    progress = _make(stream, FakeClock(), json_log=True)
    progress.event("submitted", event="oops", path=Path("/x"))
    record = json.loads(stream.getvalue())
    assert record["event"] == "submitted"
    assert record["path"] == "/x"


@pytest.mark.parametrize("json_log", [False, True])
def test_quiet_prints_only_the_summary(json_log: bool) -> None:
    stream = TtyStream()
    clock = FakeClock()
    progress = _make(stream, clock, quiet=True, json_log=json_log)
    progress.update(START)
    progress.event("retry", job="shoe-01", reason="x")
    progress.event("done", job="shoe-02")
    clock.now += 60
    progress.update(MID)
    assert stream.getvalue() == ""
    progress.close(END)
    lines = stream.getvalue().splitlines()
    assert len(lines) == 1
    if json_log:
        assert json.loads(lines[0])["event"] == "summary"
    else:
        assert lines[0] == "mjv: 9/10 done, 0 in flight, 1 failed, spent 5.40"


class _Pipe(io.StringIO):
    """A stream whose reader goes away after ``room`` writes."""

    def __init__(self, room: int, error: OSError) -> None:
        super().__init__()
        self.room, self.error, self.calls = room, error, 0

    def write(self, text: str) -> int:
        self.calls += 1
        if self.calls > self.room:
            raise self.error
        return super().write(text)


def test_a_broken_pipe_silences_the_stream_once_and_for_all() -> None:
    pipe = _Pipe(1, BrokenPipeError(32, "Broken pipe"))
    stream = GuardedStream(pipe)
    progress = LogProgress(stream, lambda: 0.0, 5.0)  # type: ignore[arg-type]
    progress.event("done", job="a")
    progress.event("done", job="b")  # the reader left: dropped, no exception
    progress.close(END)
    assert stream.broken and pipe.calls == 2
    assert pipe.getvalue() == "mjv: done job=a\n"


def test_other_write_errors_are_not_hidden() -> None:
    stream = GuardedStream(_Pipe(0, OSError(28, "No space left on device")))
    with pytest.raises(OSError, match="No space"):
        stream.write("x")
    assert not stream.broken
