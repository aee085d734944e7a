"""Paths named by untrusted config: resolved (symlinks included) and kept inside the repository,
and the exact files a code bundle may hold.

A config arrives in a pull request, so ``source_directory: ../sibling``, ``entry_point:
/etc/hostname`` or a symlink to ``~/.aws`` must be refused, not copied and uploaded.
"""

from __future__ import annotations

import fnmatch
import hashlib
import os
import subprocess
import tempfile
import urllib.parse
from pathlib import Path
from typing import Iterable

from smpipe_gen.errors import SmpipeError, shorten

# Never shipped in a code bundle: version control, local run state, caches, notebook checkpoints.
EXCLUDED_NAMES = (".git", ".smpipe", "__pycache__", "*.pyc", ".DS_Store", ".ipynb_checkpoints",
                  ".pytest_cache")


def inside(base: Path, relative: object, *, where: str, what: str, hint: str) -> Path:
    """``base / relative`` resolved, symlinks included; refused unless it stays inside ``base``.

    Also turns the OS's own refusals (a name over 255 bytes, a NUL) into one-line errors."""
    if not isinstance(relative, str) or not relative:
        raise SmpipeError(f"{what} must be a non-empty string, got {shorten(repr(relative))}", where=where, hint=hint)
    shown = shorten(repr(relative))
    if "\x00" in relative:
        raise SmpipeError(f"{what} {shown} contains a NUL character", where=where, hint=hint)
    base = base.resolve()
    try:
        resolved = (base / relative).resolve()
        resolved.exists()  # raises for names the file system cannot hold
    except (OSError, RuntimeError) as exc:  # RuntimeError: a symlink loop on older Pythons
        reason = getattr(exc, "strerror", None) or str(exc)
        raise SmpipeError(f"{what} {shown} is not a usable path ({reason})", where=where, hint=hint) from None
    if not resolved.is_relative_to(base):
        raise SmpipeError(f"{what} {shown} leads outside {base.name or base}/ (to {shorten(str(resolved))})",
                          where=where, hint=hint)
    return resolved


NAME_LIMIT = 100  # characters of a name made by file_name (file systems allow 255 bytes)


def file_name(text: str) -> str:
    """A file name standing for ``text`` (a step name of a definition nobody reviewed): distinct
    texts give distinct names, never ``.``, ``..``, a hidden name or one over NAME_LIMIT.

    Letters, digits, ``_``, ``-``, ``.`` and ``~`` stay (``abalone-Train`` is its own name); any other
    character, and a leading dot, is percent-encoded, so ``a b`` and ``a_b`` stay apart. A longer
    name keeps its head and ends in ``+`` and a digest of the whole text: ``+`` is always encoded,
    so a shortened name never equals another text's name."""
    name = urllib.parse.quote(text, safe="") or "%"
    if name.startswith("."):
        name = "%2E" + name[1:]
    if len(name) > NAME_LIMIT:
        name = name[:NAME_LIMIT - 17] + "+" + hashlib.sha256(text.encode()).hexdigest()[:16]
    return name


def bundle_files(root: Path, directory: str, excluded_dirs: Iterable[Path]) -> list[str]:
    """The files a code bundle of ``directory`` holds, repository-relative and sorted.

    In a git repository only tracked files count, so an untracked scratch file or notebook
    checkpoint changes nothing; outside git every file does. Either way, excluded names, the
    output directories and symlinks leading outside the repository or into one of those are
    left out (a committed ``settings.txt -> ../.git/config`` would ship the git config)."""
    root = root.resolve()
    top = (root / directory).resolve()
    excluded = [Path(path).resolve() for path in excluded_dirs]
    candidates = _tracked(root, top)
    if candidates is None:
        candidates = _walked(top)
    files = []
    for path in candidates:
        real = path.resolve()  # a link is judged by its name and by what it leads to
        if _left_out(root, path, excluded) or _left_out(root, real, excluded) or not real.is_file():
            continue
        files.append(path.relative_to(root).as_posix())
    return sorted(set(files))


def _left_out(root: Path, path: Path, excluded: list[Path]) -> bool:
    """Whether a bundle must not hold ``path``: outside the repository, under an excluded name
    (``.git``, ``.smpipe``, ...) or under an output directory."""
    if not path.is_relative_to(root):
        return True
    parts = path.relative_to(root).parts
    return any(fnmatch.fnmatch(part, pattern) for part in parts for pattern in EXCLUDED_NAMES) \
        or any(path.is_relative_to(out) for out in excluded)


def _walked(top: Path) -> list[Path]:
    found = []
    for dirpath, dirnames, filenames in os.walk(top):  # does not follow directory symlinks
        dirnames[:] = [name for name in dirnames
                       if not any(fnmatch.fnmatch(name, pattern) for pattern in EXCLUDED_NAMES)]
        found.extend(Path(dirpath, name) for name in filenames)
    return found


def _tracked(root: Path, top: Path) -> list[Path] | None:
    """Files git tracks under ``top``, or None outside a git repository (or without git).

    Plain ``git ls-files`` (paths relative to ``root``): importing GitPython costs more than the
    fast ``check`` that calls this (see smpipe_gen/fingerprint.py) spends on everything else."""
    try:
        listed = subprocess.run(["git", "-C", str(root), "ls-files", "-z", "--", str(top)],
                                capture_output=True, check=False)
    except OSError:  # no git on this machine
        return None
    if listed.returncode != 0:  # not a repository, or one git refuses to read
        return None
    return [root / os.fsdecode(name) for name in listed.stdout.split(b"\0") if name]


def write_atomic(path: Path, data: str | bytes) -> None:
    """Write through a temporary file in the same directory and rename it into place, so a
    crash or an error never leaves a half-written file behind."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data.encode() if isinstance(data, str) else data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
