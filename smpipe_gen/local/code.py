"""Code objects the definition refers to, rebuilt from the repository through the manifest."""

from __future__ import annotations

import dataclasses
import hashlib
import os
import shutil
import tarfile
import threading
from pathlib import Path

from smpipe_gen import digests, tarballs
from smpipe_gen.digests import sha256_file
from smpipe_gen.manifest import CodeArtifact, Manifest, SourceFile
from smpipe_gen.errors import SmpipeError
from smpipe_gen.local import bootstrap
from smpipe_gen.local.sandbox import rewrite
from smpipe_gen.local.store import locked, warn_damaged


def object_digest(path: Path) -> str:
    """A tarball's digest by member name and content (the SDK's tarballs carry timestamps that
    change on every build, the code does not); any other file's by its bytes."""
    if not _is_tarball(path):
        return sha256_file(path)
    digest = hashlib.sha256()
    try:
        with tarfile.open(path) as tar:
            for member in sorted((m for m in tar.getmembers() if m.isfile()), key=lambda m: m.name):
                digest.update(f"{member.name}\0{hashlib.sha256(tar.extractfile(member).read()).hexdigest()}\n".encode())
    except (tarfile.TarError, OSError, EOFError) as error:
        raise SmpipeError(f"{path} is not a readable tarball: {error}", where="code bundle",
                          hint="replace it with the bundle the SDK uploaded") from None
    return digest.hexdigest()


class CodeArtifacts:
    """Materializes manifest artifacts (sourcedir tarballs, inline scripts, single files)."""

    def __init__(self, manifest: Manifest, repo_root: Path, build_dir: Path):
        self.manifest = manifest
        self.repo_root = Path(repo_root)
        self.build_dir = Path(build_dir)
        self._lock = threading.Lock()
        self._digests: dict[str, str] = {}
        self._shas: dict[str, str] = {}  # repository file -> digest, read once per run (as the code it runs)
        self._bundles: set[str] = set()  # digests whose bundle this run has built or verified
        self._unpacked: set[str] = set()  # digests whose unpacked directory this run has verified

    def get(self, uri: str) -> CodeArtifact | None:
        return self.manifest.artifact(uri) if isinstance(uri, str) else None

    def require(self, uri: str, where: str) -> CodeArtifact:
        artifact = self.get(uri)
        if artifact is None:
            raise SmpipeError(f"code object {uri} is not in the manifest", where=where,
                              hint="re-render the pipeline (smpipe-gen render) so the manifest lists it")
        return artifact

    def drift(self, artifact: CodeArtifact) -> list[str]:
        """Repository files that changed since the render recorded them."""
        return [f.path for f in artifact.files if self._file_sha(f.path) != f.sha256]

    def digest(self, uri: str) -> str:
        """Digest of the code as it will run (the repository's current files)."""
        artifact = self.get(uri)
        if artifact is None:
            return ""
        if artifact.kind == "inline":
            return digests.text_digest(artifact.content or "")
        with self._lock:
            if uri in self._digests:
                return self._digests[uri]
        current = [dataclasses.replace(item, sha256=self._file_sha(item.path)) for item in artifact.files]
        digest = digests.content_digest(current)
        with self._lock:
            self._digests[uri] = digest
        return digest

    def materialize(self, artifact: CodeArtifact, target_dir: Path, opt_ml: str | None = None,
                    prepared: bootstrap.Prepared | None = None) -> Path:
        """Write the object as S3 would deliver it, named like the URI's last component.
        ``opt_ml`` rewrites /opt/ml in inline scripts when there is no mount namespace;
        ``prepared`` leaves out of a bootstrap what the runner did for it (see bootstrap.rewrite)."""
        target = Path(target_dir) / artifact.s3_uri.rsplit("/", 1)[-1]
        target.parent.mkdir(parents=True, exist_ok=True)
        if artifact.kind == "inline":
            content = bootstrap.rewrite(artifact.content or "", prepared or bootstrap.Prepared())
            if opt_ml:
                content = rewrite(content, opt_ml)
            target.write_text(content, encoding="utf-8")
        elif artifact.kind == "file":
            shutil.copyfile(self._source(artifact.files[0].path), target)
        else:
            shutil.copyfile(self._tarball(artifact), target)
        return target

    def extract(self, artifact: CodeArtifact, target_dir: Path) -> None:
        """Lay out a sourcedir's files in a directory (what the training toolkit does); an object
        that is itself a tarball (a foreign definition's bundle) is unpacked."""
        if artifact.kind == "file" and _is_tarball(self._source(artifact.files[0].path)):
            with tarfile.open(self._source(artifact.files[0].path)) as tar:
                tar.extractall(target_dir, filter="data")
            return
        for item in artifact.files:
            dest = Path(target_dir) / item.arcname
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(self._source(item.path), dest)

    def is_bundle(self, artifact: CodeArtifact) -> bool:
        """A tarball of code: a sourcedir, or a foreign definition's object that is a tarball."""
        return artifact.kind == "sourcedir" or (artifact.kind == "file" and _is_tarball(self._source(artifact.files[0].path)))

    def unpacked(self, artifact: CodeArtifact) -> Path:
        """A bundle (see is_bundle) as the SDK's bootstrap (runproc.sh: ``cd`` into the code input,
        ``tar -xzf`` the bundle) leaves it: its members next to the bundle itself. Unpacked once
        per digest under the build directory and mounted read-only into every job that runs it,
        instead of unpacked again by every step. A directory left by an earlier run is reused
        only after its files are checked against the digest it is named by (once per run): a
        sourcedir's, or a foreign tarball's own (object_digest, by member name and content). Runs
        of one project at once take turns (a file lock), so none finds another's half-unpacked
        or deleted directory."""
        if artifact.kind == "file":
            bundle, digest = self._source(artifact.files[0].path), self._file_sha(artifact.files[0].path)
        else:
            bundle, digest = self._tarball(artifact), self.digest(artifact.s3_uri)
        target = self.build_dir / f"{digest}.d"
        name = artifact.s3_uri.rsplit("/", 1)[-1]  # the bundle beside its members, as runproc.sh leaves it
        with self._lock, locked(self.build_dir / f"{digest}.d.lock"):  # another run may be unpacking it
            if digest in self._unpacked:
                return target
            if target.exists() and not self._intact_dir(target, name, digest):
                shutil.rmtree(target)
            if not target.exists():
                partial = self.build_dir / f"{digest}.d.partial"
                shutil.rmtree(partial, ignore_errors=True)
                with tarfile.open(bundle) as tar:
                    tar.extractall(partial, filter="data")
                if not (partial / name).exists():
                    try:
                        os.link(bundle, partial / name)
                    except OSError:
                        shutil.copyfile(bundle, partial / name)
                partial.rename(target)
            self._unpacked.add(digest)
        return target

    @staticmethod
    def _intact_dir(directory: Path, bundle_name: str, digest: str) -> bool:
        """An unpacked directory is reused only if its files (but the bundle) have the digest of
        the current sources (``digest``, from digest())."""
        found = [SourceFile(path=str(f), arcname=f.relative_to(directory).as_posix(), sha256=sha256_file(f))
                 for f in sorted(directory.rglob("*")) if f.is_file() and f.relative_to(directory).as_posix() != bundle_name]
        intact = digests.content_digest(found) == digest
        if not intact:
            warn_damaged(directory, "unpacked code", "its files do not match its digest", "unpacking it again")
        return intact

    def _tarball(self, artifact: CodeArtifact) -> Path:
        digest = self.digest(artifact.s3_uri)  # outside the lock: digest() takes it
        target = self.build_dir / f"{digest}.tar.gz"
        with self._lock, locked(self.build_dir / f"{digest}.tar.lock"):  # another run may be building it
            if digest in self._bundles:
                return target
            if target.exists() and not self._intact(target, digest):
                target.unlink()
            if not target.exists():
                for item in artifact.files:
                    self._source(item.path)
                tmp = target.with_suffix(".partial")
                tarballs.write_sourcedir_tarball(artifact, self.repo_root, tmp)
                tmp.replace(target)
            self._bundles.add(digest)
        return target

    @staticmethod
    def _intact(bundle: Path, digest: str) -> bool:
        """A cached bundle is reused only if its members still match the digest it is named by."""
        try:
            intact = object_digest(bundle) == digest
        except SmpipeError:
            intact = False
        if not intact:
            warn_damaged(bundle, "code bundle", "its members do not match its digest", "rebuilding it")
        return intact

    def _source(self, rel: str) -> Path:
        path = self.repo_root / rel
        if not path.is_file():
            raise SmpipeError(f"code file {rel} is missing", where=str(self.repo_root),
                              hint="restore it or re-render the pipeline")
        return path

    def _file_sha(self, rel: str) -> str:
        with self._lock:
            if rel in self._shas:
                return self._shas[rel]
        sha = object_digest(self._source(rel))
        with self._lock:
            self._shas[rel] = sha
        return sha


def _is_tarball(path: Path) -> bool:
    return path.name.endswith((".tar.gz", ".tgz", ".tar")) and tarfile.is_tarfile(path)

