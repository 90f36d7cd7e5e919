"""What the durability tests share: the real services over a fake embeddings router, and a
real, tiny filesystem for the full-disk tests.

``fake_services`` opens the services as the server does, embedding through the loopback fake of
Hugging Face's router (``tests.fake_hf``): vectors in milliseconds, no model to load.

``tiny_filesystem`` mounts a tmpfs of a few pages on a folder. Writing past its size fails in
the kernel with ``ENOSPC``, exactly as a full data disk does: nothing of the product is patched.
Mounting needs root (or ``CAP_SYS_ADMIN``); where it cannot be done the test is skipped, saying
why.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.fake_hf import FakeHuggingFace
from web.services import Services, open_services
from web.settings import Settings

PAGE = 4096
TOKEN = "hf_durability_token"
MODEL = "sentence-transformers/all-MiniLM-L6-v2"


@contextmanager
def fake_hf_settings(data_dir: Path) -> Iterator[Settings]:
    """Settings on ``data_dir`` that embed through the fake router (no vector cache), which runs
    for the block."""
    with FakeHuggingFace(token=TOKEN) as hf:
        yield Settings(
            SEMSEARCH_DATA_DIR=data_dir,
            HF_TOKEN=TOKEN,
            EMBEDDINGS_MODEL=MODEL,
            HF_INFERENCE_BASE_URL=hf.base_url,
            EMBEDDINGS_CACHE="off",
        )


@contextmanager
def fake_services(data_dir: Path) -> Iterator[Services]:
    """``open_services`` with ``fake_hf_settings``."""
    with fake_hf_settings(data_dir) as settings, open_services(settings) as services:
        yield services


@contextmanager
def tiny_filesystem(folder: Path, *, pages: int) -> Iterator[Path]:
    """``folder`` with a tmpfs of ``pages`` pages of 4 KiB mounted on it, unmounted after."""
    folder.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0:
        pytest.skip("mounting a tiny tmpfs (a real full disk) needs root")
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={pages * PAGE},mode=0755", "tmpfs", str(folder)],
        capture_output=True,
        text=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "--lazy", str(folder)], check=False)


def fill(folder: Path, *, free_pages: int = 0) -> Path:
    """Fill ``folder``'s filesystem with a filler file, leaving ``free_pages`` pages free."""
    stats = os.statvfs(folder)
    free = stats.f_bavail * stats.f_frsize
    filler = folder / "filler"
    filler.write_bytes(b"\0" * (free - free_pages * PAGE))
    return filler


def leftovers(folder: Path) -> list[str]:
    """What a write cut short could leave: temporaries, and a spooled ``.bin`` without its
    manifest."""
    names = {p.name for p in folder.iterdir()}
    partials = [n for n in names if n.startswith(".partial-")]
    orphans = [n for n in names if n.endswith(".bin") and n[: -len(".bin")] + ".json" not in names]
    return sorted(partials + orphans)
