"""The fast fingerprints equal model.fingerprint of the documented payloads, byte for byte."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator.model import ImageSource, Settings, fingerprint
from orchestrator.spec.identity import extension_fingerprint, job_fingerprint, job_payload

URL = ImageSource("a", "url", url='https://cdn.example.com/ä "q".png')
FILE = ImageSource("b", "file", path=Path("/x/b.png"), sha256="ab" * 32)
STILL = ImageSource("c", "imagine", imagine="a castle\n--ar 16:9 \\ ✓", pick=3)
PROMPTS = [None, "", "slow orbit", 'quotes " and \\ back', "ünïcödé ✓ \u2028 \x01 tab\t"]


@pytest.mark.parametrize("image", [URL, FILE, STILL])
@pytest.mark.parametrize("prompt", PROMPTS)
def test_job_fingerprint_matches_model_fingerprint(image: ImageSource, prompt: str | None) -> None:
    settings = Settings(mode="relax", batch_size=4, loop=True, raw=True, motion="high")
    for end in (None, FILE, STILL):
        expected = fingerprint(job_payload(image, end, prompt, settings, 7))
        assert job_fingerprint(image, end, prompt, settings, 7) == expected


@pytest.mark.parametrize("prompt", PROMPTS)
def test_extension_fingerprint_matches_model_fingerprint(prompt: str | None) -> None:
    payload = {"parent": "f" * 64, "prompt": prompt, "motion": "high", "index": 3}
    assert extension_fingerprint("f" * 64, prompt, "high", 3) == fingerprint(payload)


def test_the_name_of_an_image_is_not_part_of_its_identity() -> None:
    renamed = ImageSource("renamed", "url", url=URL.url)
    assert job_fingerprint(URL, None, "p", Settings(), 1) == job_fingerprint(
        renamed, None, "p", Settings(), 1
    )
    assert job_fingerprint(URL, None, "p", Settings(), 1) != job_fingerprint(
        URL, None, "p", Settings(), 2
    )
