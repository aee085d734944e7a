"""The local object store: ``s3://bucket/key`` lives at ``<run root>/s3/bucket/key``.

Seeds (manifest ``local_data`` and ``--data``) overlay repository files onto S3 prefixes without
copying them in, so bundled sample data is read in place. Publishing is atomic: outputs are moved
into a temporary name beside the target and renamed into place, so a crash never leaves a
half-written object that a later run would trust.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import re
import shutil
import stat
import sys
import tempfile
import threading
from pathlib import Path
from typing import Iterator
from urllib.parse import unquote, urlsplit

from smpipe_gen.digests import sha256_file
from smpipe_gen.errors import SmpipeError, shorten


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    """One holder at a time across threads and processes (an advisory lock on ``path``): parallel
    steps, and parallel runs of one project on one run root, build a shared thing once."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def warn_damaged(path: Path, what: str, why: str, then: str = "treated as absent") -> None:
    """One warning line for a damaged file under the run root (a cache: damage is never fatal)."""
    print(f"warning: {path}: damaged {what} ({why}); {then}", file=sys.stderr, flush=True)


# A bucket is a directory of the store: a name S3 accepts (legacy names with capitals and
# underscores included), never "." or ".." (``s3://../k`` landed beside runs/ and cache/).
_BUCKET = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,254}")
_KEY_BYTES = 1024  # S3's limit for a key
_NAME_BYTES = 255  # the file systems' limit for one name: each part of a key becomes one


def split_uri(uri: str) -> tuple[str, str]:
    """``s3://bucket/a/b`` -> ("bucket", "a/b"); a URI that cannot name a place inside the store
    (a bucket that is no plain name, a key with ``..``, a NUL, or a part too long for a file
    name) is refused in one line."""
    if not isinstance(uri, str) or not uri.startswith("s3://"):
        raise SmpipeError(f"not an S3 URI: {shorten(repr(uri))}", hint="data locations must look like s3://bucket/key")
    bucket, _, key = uri[len("s3://"):].partition("/")
    parts = key.split("/")
    if not _BUCKET.fullmatch(bucket) or ".." in parts or "\x00" in key:
        raise SmpipeError(f"invalid S3 URI: {shorten(repr(uri))}",
                          hint="use s3://bucket/key with an S3 bucket name and no '..' in the key")
    if len(key.encode()) > _KEY_BYTES or any(len(part.encode()) > _NAME_BYTES for part in parts):
        raise SmpipeError(f"S3 key too long for the local store: {shorten(repr(uri))}",
                          hint=f"keys are at most {_KEY_BYTES} bytes, each part between slashes at most "
                               f"{_NAME_BYTES} (a local file name)")
    return bucket, key.strip("/")


# The hosts of an https URL of an S3 object (CreateModel's ModelDataUrl takes one): path style
# (s3, s3.REGION, s3-REGION, s3.dualstack.REGION, in amazonaws.com or amazonaws.com.cn, then
# /bucket/key) and virtual-hosted style (BUCKET. before the same).
_PATH_STYLE = re.compile(r"s3(?:[.-][a-z0-9-]+){0,2}\.amazonaws\.com(?:\.cn)?")
_VIRTUAL_HOSTED = re.compile(r"(?P<bucket>.+?)\.s3(?:[.-][a-z0-9-]+){0,2}\.amazonaws\.com(?:\.cn)?")


def as_s3_uri(url: str) -> str:
    """The ``s3://bucket/key`` an https URL of an S3 object names, anything else unchanged:
    SageMaker reads a model's data from either (AWS's notebooks pass
    ``https://bucket.s3-us-east-1.amazonaws.com/key``), the local store only from the S3 URI, and
    what is neither is refused by split_uri where it is read. The key is the URL's path, decoded."""
    if not isinstance(url, str) or not url.startswith("https://"):
        return url
    parts = urlsplit(url)
    host, path = parts.hostname or "", parts.path.lstrip("/")
    hosted = _VIRTUAL_HOSTED.fullmatch(host)
    if _PATH_STYLE.fullmatch(host):
        bucket, _, key = path.partition("/")
    elif hosted:
        bucket, key = hosted["bucket"], path
    else:
        return url
    return f"s3://{bucket}/{unquote(key)}" if bucket else url


def first_link(directory: Path, below: bool = True) -> Path | None:
    """The first symbolic link on the way to ``directory``, at it or (with ``below``) under it,
    never followed; or None. A job's outputs are published as the regular files and directories
    they hold: a link among them would lead every later reader out of the store, and a link on
    the way would make publishing move, or packing read, whatever it leads to."""
    directory = Path(directory).absolute()
    for place in [*reversed(directory.parents), directory]:
        if place.is_symlink():
            return place
    if not below:
        return None
    for dirpath, dirnames, filenames in os.walk(directory):  # does not follow directory links
        for name in dirnames + filenames:
            if os.path.islink(os.path.join(dirpath, name)):
                return Path(dirpath, name)
    return None


def seeded_file(seeds: dict[str, Path], uri: str) -> Path | None:
    """The file a seed (``--data s3://bucket/prefix=./dir``) holds for object ``uri``, the deepest
    seed's as the store serves it: an object uploaded before the run (a CI's ``aws s3 cp``) is
    named by its S3 URI and found there. None for a URI naming no place in a bucket."""
    try:
        bucket, key = split_uri(uri)
    except SmpipeError:
        return None
    uri = f"s3://{bucket}/{key}"
    for seed, path in sorted(((s.rstrip("/"), Path(p)) for s, p in seeds.items()), reverse=True):
        if uri == seed or uri.startswith(seed + "/"):
            candidate = path.joinpath(*uri[len(seed):].strip("/").split("/")) if uri != seed else path
            if candidate.is_file():
                return candidate
    return None


class Store:
    """S3 URIs mapped to local files, with read-only seeds from the repository."""

    def __init__(self, root: Path, seeds: dict[str, Path] | None = None):
        self.root = Path(root)
        self.seeds = {uri.rstrip("/"): Path(path) for uri, path in (seeds or {}).items()}
        self._digests: dict[tuple[str, int, int], str] = {}
        self._lock = threading.Lock()

    def path(self, uri: str) -> Path:
        bucket, key = split_uri(uri)
        return self.root / bucket / key if key else self.root / bucket

    def objects(self, uri: str) -> dict[str, Path]:
        """The objects under an S3 prefix as {path relative to the prefix: local file}, the way
        SageMaker lays out an S3Prefix input (a prefix naming one object gives its basename)."""
        prefix = uri.rstrip("/")
        found: dict[str, Path] = {}
        for seed_uri, seed_path in sorted(self.seeds.items()):
            if prefix == seed_uri:  # a seeded file is the object the URI names: it has the URI's name
                _collect(seed_path, found, name=seed_uri.rpartition("/")[2])
            elif prefix.startswith(seed_uri + "/"):
                _collect(seed_path / prefix[len(seed_uri):].lstrip("/"), found)
            elif seed_uri.startswith(prefix + "/"):
                _collect(seed_path, found, under=seed_uri[len(prefix) + 1:])
        _collect(self.path(prefix), found)
        return found

    def digest(self, uri: str) -> str:
        """Content digest of everything under a prefix (names and bytes)."""
        digest = hashlib.sha256()
        for rel, path in sorted(self.objects(uri).items()):
            digest.update(f"{rel}\0{self.file_digest(path)}\n".encode())
        return digest.hexdigest()

    def file_digest(self, path: Path) -> str:
        stat = path.stat()
        memo = (str(path), stat.st_size, stat.st_mtime_ns)
        with self._lock:
            if memo in self._digests:
                return self._digests[memo]
        digest = sha256_file(path)
        with self._lock:
            self._digests[memo] = digest
        return digest

    def materialize(self, uri: str, target: Path) -> int:
        """Copy the objects under ``uri`` into directory ``target``; returns how many."""
        objects = self.objects(uri)
        for rel, source in objects.items():
            dest = target / rel
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, dest)
        return len(objects)

    def publish_dir(self, source: Path, uri: str) -> None:
        """Move a finished job's output directory to ``uri`` atomically: one rename when nothing
        is there yet (each execution writes its own prefix), else rename, then swap. An output
        holding a symbolic link is refused: it is never followed, nor moved into the store."""
        target, source = self.path(uri), Path(source).absolute()
        link = first_link(source)
        if link is not None:
            shown = link.relative_to(source.parent) if link.is_relative_to(source) else link.name
            raise SmpipeError(f"output {uri} holds a symbolic link: {shorten(str(shown))} -> {shorten(os.readlink(link))}",
                              hint="write the files themselves: local runs publish only regular files and directories")
        target.parent.mkdir(parents=True, exist_ok=True)
        if Path(source).is_dir() and not target.exists() and not target.is_symlink():
            try:
                os.rename(source, target)
                return
            except OSError:  # another file system, or a publish of the same prefix won the race
                pass
        staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
        try:
            staged = staging / "data"
            if Path(source).is_dir():
                shutil.move(str(source), staged)
            else:
                staged.mkdir()
            self._swap(staged, target, staging)
        finally:
            shutil.rmtree(staging, ignore_errors=True)

    def publish_file(self, source: Path, uri: str) -> None:
        """Move one file to ``uri`` atomically."""
        target = self.path(uri)
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.is_dir():
            shutil.rmtree(target)
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
        os.close(fd)
        try:
            shutil.move(str(source), tmp)
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    @staticmethod
    def _swap(staged: Path, target: Path, staging: Path) -> None:
        if target.exists() or target.is_symlink():
            old = staging / "old"
            os.replace(target, old)
        os.replace(staged, target)


def _collect(path: Path, found: dict[str, Path], under: str = "", name: str = "") -> None:
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return
    if stat.S_ISREG(mode):
        found[under or name or path.name] = path
    elif stat.S_ISDIR(mode):
        _walk(str(path), "", found, under)


def _walk(directory: str, rel: str, found: dict[str, Path], under: str) -> None:
    """The files under ``directory`` (one scandir per directory: every step reads its inputs and
    publishes its outputs through here), not following directory links, as Path.rglob; staging
    directories of an interrupted publish (``.name.tmp``) are never read as data."""
    with os.scandir(directory) as entries:
        for entry in entries:
            name = f"{rel}/{entry.name}" if rel else entry.name
            if entry.is_dir(follow_symlinks=False):
                if not (entry.name.startswith(".") and entry.name.endswith(".tmp")):
                    _walk(entry.path, name, found, under)
            elif entry.is_file() and not entry.name.endswith(".tmp"):
                found[f"{under}/{name}" if under else name] = Path(entry.path)
