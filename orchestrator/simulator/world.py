"""A simulated world that outlives its process: an append-only JSON-lines journal on disk.

Each change (a task registered, started or ended, an upload, a charge, a submit received) is one
line, written with a single ``write`` and fsynced, so a kill -9 loses at most the line being
written; loading replays the lines and drops a torn last line. Times are stored as Unix time and
URLs as paths, so a new process (new clock origin, new port) sees the same world.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from orchestrator.errors import WorldError
from orchestrator.simulator.ledger import Charge, SubmitRecord
from orchestrator.simulator.tasks import SimTask
from orchestrator.simulator.uploads import Upload

HEADER = {"world": "mjv-simulator", "version": 1}
Record = tuple[str, Any]  # ("task", SimTask) | ("upload", Upload) | ("charge", ...) | ...


class World:
    """The journal file of one simulated account; times convert through ``epoch``."""

    def __init__(self, path: Path, epoch: float) -> None:
        self.path = path
        self._epoch = epoch  # Unix time at clock zero of this process
        self._fd: int | None = None

    def load(self) -> list[Record]:
        """Return every record of the file in order (none for a new file), then open it."""
        lines = self._read_lines()
        good, records = 0, []
        for number, line in enumerate(lines, 1):
            if number == len(lines) and not line.endswith(b"\n"):
                break  # torn by a kill during the write: that change never happened
            good += len(line)
            if number > 1:
                records.append(self._decode(line, number))
            elif _parse(line) != HEADER:
                raise WorldError(f"{self.path}: not a simulator world file (line 1)")
        self._open(good, write_header=good == 0)
        return records

    def _read_lines(self) -> list[bytes]:
        try:
            return self.path.read_bytes().splitlines(keepends=True)
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise WorldError(f"{self.path}: cannot read the world file: {exc.strerror}") from None

    def _open(self, size: int, write_header: bool) -> None:
        try:
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o600)
            os.truncate(self._fd, size)
        except OSError as exc:
            raise WorldError(f"{self.path}: cannot open the world file: {exc.strerror}") from None
        if write_header:
            self._write(HEADER)

    def _decode(self, line: bytes, number: int) -> Record:
        payload = _parse(line)
        try:
            kind = payload["t"]
            return kind, _DECODERS[kind](payload["v"], self._clock)
        except (KeyError, TypeError, ValueError):
            raise WorldError(f"{self.path}: line {number} is not a world record") from None

    def append(self, kind: str, value: Any) -> None:
        """Write one record durably (one write, then fsync)."""
        self._write({"t": kind, "v": _ENCODERS[kind](value, self._wall)})

    def _write(self, payload: dict[str, Any]) -> None:
        if self._fd is None:
            raise WorldError(f"{self.path}: the world file is closed")
        line = json.dumps(payload, ensure_ascii=False, separators=(",", ":")) + "\n"
        try:
            os.write(self._fd, line.encode())
            os.fsync(self._fd)
        except OSError as exc:
            raise WorldError(f"{self.path}: cannot write the world file: {exc.strerror}") from None

    def close(self) -> None:
        """Close the file; records already written stay."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def _wall(self, t: float | None) -> float | None:
        return None if t is None else self._epoch + t

    def _clock(self, wall: float | None) -> float | None:
        return None if wall is None else wall - self._epoch


def _parse(line: bytes) -> Any:
    try:
        return json.loads(line)
    except ValueError:
        return None


Convert = Callable[[Any], Any]


def _encode_task(task: SimTask, wall: Convert) -> dict[str, Any]:
    out = dataclasses.asdict(task)
    for name in ("created", "start", "queued"):
        out[name] = wall(out[name])
    return out


def _decode_task(raw: dict[str, Any], clock: Convert) -> SimTask:
    for name in ("created", "start", "queued"):
        raw[name] = clock(raw[name])
    return SimTask(**raw)


def _encode_upload(upload: Upload, wall: Convert) -> dict[str, Any]:
    data = base64.b64encode(upload.data).decode()
    return {
        "mime": upload.mime,
        "data": data,
        "issued": wall(upload.issued),
        "expires": wall(upload.expires),
    }


def _decode_upload(raw: dict[str, Any], clock: Convert) -> Upload:
    data = base64.b64decode(raw["data"], validate=True)
    return Upload(str(raw["mime"]), data, clock(float(raw["issued"])), clock(float(raw["expires"])))


_ENCODERS: dict[str, Callable[[Any, Convert], dict[str, Any]]] = {
    "task": _encode_task,
    "upload": _encode_upload,
    "charge": lambda value, _: dataclasses.asdict(value),
    "submit": lambda value, _: dataclasses.asdict(value),
}
_DECODERS: dict[str, Callable[[Any, Convert], Any]] = {
    "task": _decode_task,
    "upload": _decode_upload,
    "charge": lambda raw, _: Charge(**raw),
    "submit": lambda raw, _: SubmitRecord(**raw),
}
