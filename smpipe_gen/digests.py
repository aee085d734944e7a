"""Content digests of files and texts: the same content gives the same digest on any machine."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from smpipe_gen.manifest import SourceFile


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def content_digest(files: list[SourceFile]) -> str:
    """Digest of a set of files by member name and content (not by tar bytes, which carry
    timestamps): the same sources give the same digest on any machine."""
    digest = hashlib.sha256()
    for item in sorted(files, key=lambda f: f.arcname):
        digest.update(f"{item.arcname}\0{item.sha256}\n".encode())
    return digest.hexdigest()


def text_digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()
