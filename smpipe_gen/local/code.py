"""Code objects the definition refers to, rebuilt from the repository through the manifest."""

from __future__ import annotations

import shutil
import threading
from pathlib import Path

from smpipe_gen import artifacts
from smpipe_gen.artifacts import CodeArtifact, Manifest
from smpipe_gen.errors import SmpipeError
from smpipe_gen.local.sandbox import rewrite


class CodeArtifacts:
    """Materializes manifest artifacts (sourcedir tarballs, inline scripts, single files)."""

    def __init__(self, manifest: Manifest, repo_root: Path, build_dir: Path):
        self.manifest = manifest
        self.repo_root = Path(repo_root)
        self.build_dir = Path(build_dir)
        self._lock = threading.Lock()
        self._digests: dict[str, str] = {}

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
            return artifacts.text_digest(artifact.content or "")
        with self._lock:
            if uri in self._digests:
                return self._digests[uri]
        current = [item.model_copy(update={"sha256": self._file_sha(item.path)}) for item in artifact.files]
        digest = artifacts.content_digest(current)
        with self._lock:
            self._digests[uri] = digest
        return digest

    def materialize(self, artifact: CodeArtifact, target_dir: Path, opt_ml: str | None = None) -> Path:
        """Write the object as S3 would deliver it, named like the URI's last component.
        ``opt_ml`` rewrites /opt/ml in inline scripts when there is no mount namespace."""
        target = Path(target_dir) / artifact.s3_uri.rsplit("/", 1)[-1]
        target.parent.mkdir(parents=True, exist_ok=True)
        if artifact.kind == "inline":
            content = artifact.content or ""
            if opt_ml:
                content = rewrite(content, opt_ml)
            target.write_text(content, encoding="utf-8")
        elif artifact.kind == "file":
            shutil.copyfile(self._source(artifact.files[0].path), target)
        else:
            shutil.copyfile(self._tarball(artifact), target)
        return target

    def extract(self, artifact: CodeArtifact, target_dir: Path) -> None:
        """Lay out a sourcedir's files in a directory (what the training toolkit does)."""
        for item in artifact.files:
            dest = Path(target_dir) / item.arcname
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(self._source(item.path), dest)

    def _tarball(self, artifact: CodeArtifact) -> Path:
        target = self.build_dir / f"{self.digest(artifact.s3_uri)}.tar.gz"
        with self._lock:
            if not target.exists():
                for item in artifact.files:
                    self._source(item.path)
                tmp = target.with_suffix(".partial")
                artifacts.write_sourcedir_tarball(artifact, self.repo_root, tmp)
                tmp.replace(target)
        return target

    def _source(self, rel: str) -> Path:
        path = self.repo_root / rel
        if not path.is_file():
            raise SmpipeError(f"code file {rel} is missing", where=str(self.repo_root),
                              hint="restore it or re-render the pipeline")
        return path

    def _file_sha(self, rel: str) -> str:
        return artifacts.sha256_file(self._source(rel))
