"""Code artifacts of kind "sourcedir" as reproducible tarballs (apply uploads them, a local run
unpacks them)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from smpipe_gen.manifest import CodeArtifact


def write_sourcedir_tarball(artifact: CodeArtifact, repo_root: Path, target: Path) -> Path:
    """Build the tarball of a "sourcedir" artifact reproducibly (sorted members, zero mtimes,
    root ownership), so the same sources always give the same bytes."""
    import gzip
    import io
    import tarfile

    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for item in sorted(artifact.files, key=lambda f: f.arcname):
            data = (Path(repo_root) / item.path).read_bytes()
            info = tarfile.TarInfo(item.arcname)
            info.size, info.mtime, info.mode = len(data), 0, 0o644
            tar.addfile(info, io.BytesIO(data))
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target, "wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as gz:
        gz.write(buffer.getvalue())
    return target
