"""Job identity: fingerprints of exactly what would be sent, equal to ``model.fingerprint``.

A job's payload is its start image's identity, its end image's identity (or null), the rendered
prompt, every setting, the take number, and the provider unless it is CometAPI (so campaigns made
before there were other providers keep their fingerprints); an extension step's is its parent's
fingerprint, its prompt, motion and index. The canonical JSON is assembled from cached pieces
because campaigns have thousands of jobs sharing a few images and settings; the result is byte
for byte what ``model.fingerprint(payload)`` hashes (the tests hold both to that).
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Callable
from dataclasses import asdict
from typing import Any

from orchestrator.model import ImageSource, Settings
from orchestrator.providers import DEFAULT_PROVIDER

_canonical = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode


def job_payload(
    image: ImageSource,
    end: ImageSource | None,
    prompt: str | None,
    settings: Settings,
    take: int,
    provider: str = DEFAULT_PROVIDER,
    retake: int = 0,
) -> dict[str, Any]:
    """The payload a job's fingerprint hashes (``retake`` only when > 0: a retake after
    failed clip checks; ``provider`` only when not CometAPI; every other fingerprint stays
    as it was)."""
    payload = {
        "image": image.identity(),
        "end_image": end.identity() if end else None,
        "prompt": prompt,
        "settings": asdict(settings),
        "take": take,
    }
    if provider != DEFAULT_PROVIDER:
        payload["provider"] = provider
    return payload | {"retake": retake} if retake else payload


def job_fingerprint(
    image: ImageSource,
    end: ImageSource | None,
    prompt: str | None,
    settings: Settings,
    take: int,
    provider: str = DEFAULT_PROVIDER,
) -> str:
    """``model.fingerprint(job_payload(...))``, computed from canonical-JSON pieces."""
    pieces = encode_image(image), encode_image(end), prompt, encode_settings(settings), take
    return hash_job(*pieces, provider=provider)


def hash_job(
    image: str,
    end: str,
    prompt: str | None,
    settings: str,
    take: int,
    provider: str = DEFAULT_PROVIDER,
    retake: int = 0,
) -> str:
    """A job's fingerprint from pieces made by encode_image and encode_settings."""
    again = f'"retake":{retake},' if retake else ""
    # Provider names are plain identifiers, which JSON needs no escaping for.
    who = f'"provider":"{provider}",' if provider != DEFAULT_PROVIDER else ""
    text = (
        f'{{"end_image":{end},"image":{image},'
        f'"prompt":{_text_json(prompt)},{who}{again}"settings":{settings},"take":{take}}}'
    )
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def extension_fingerprint(parent: str, prompt: str | None, motion: str, index: int) -> str:
    """``model.fingerprint({parent, prompt, motion, index})`` of one extension step.

    ``parent`` is a sha256 hex digest, which JSON needs no escaping for.
    """
    text = (
        f'{{"index":{index},"motion":{_text_json(motion)},"parent":"{parent}",'
        f'"prompt":{_text_json(prompt)}}}'
    )
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def job_hasher(
    end: str, settings: str, provider: str = DEFAULT_PROVIDER
) -> Callable[[str, str | None, int], str]:
    """``lambda image, prompt, take: hash_job(image, end, prompt, settings, take, provider)``,
    with the text that a matrix row's jobs share made once."""
    who = f'"provider":"{provider}",' if provider != DEFAULT_PROVIDER else ""
    head = f'{{"end_image":{end},"image":'
    tail = f'{who}"settings":{settings},"take":'
    sha256 = hashlib.sha256

    def hashed(image: str, prompt: str | None, take: int) -> str:
        text = f'{head}{image},"prompt":{_text_json(prompt)},{tail}{take}}}'
        return sha256(text.encode()).hexdigest()

    return hashed


def extension_hasher(prompt: str | None, motion: str, index: int) -> Callable[[str], str]:
    """``lambda parent: extension_fingerprint(parent, prompt, motion, index)``, with the text
    around the parent made once (the steps of a matrix row's jobs differ by parent alone)."""
    head = f'{{"index":{index},"motion":{_text_json(motion)},"parent":"'.encode()
    tail = f'","prompt":{_text_json(prompt)}}}'.encode()
    sha256 = hashlib.sha256

    def hashed(parent: str) -> str:
        return sha256(head + parent.encode() + tail).hexdigest()

    return hashed


def encode_image(image: ImageSource | None) -> str:
    """Canonical JSON of an image's identity (``null`` for no image)."""
    return _canonical(image.identity() if image else None)


def encode_settings(settings: Settings) -> str:
    """Canonical JSON of every setting."""
    return _canonical(asdict(settings))


@functools.lru_cache(maxsize=4096)
def _text_json(text: str | None) -> str:
    return _canonical(text)  # prompts and motions repeat across thousands of jobs
