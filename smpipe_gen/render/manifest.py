"""Turn the uploads recorded during render into the code manifest apply and run --local use."""

from __future__ import annotations

import os
from pathlib import Path

from smpipe_gen.digests import content_digest, sha256_file, text_digest
from smpipe_gen.manifest import CodeArtifact, SourceFile
from smpipe_gen.render.offline import Upload


def code_artifacts(uploads: dict[str, Upload], root: Path) -> list[CodeArtifact]:
    """One manifest entry per recorded upload, in the order of the files they hold (then S3
    URI): an edited script changes its bundle's URI and digests in place, instead of moving
    the whole entry to where its new hash sorts."""
    found = [_artifact(upload, Path(root)) for upload in uploads.values()]
    return sorted(found, key=lambda a: ([f.path for f in a.files], a.kind, a.s3_uri))


def _artifact(upload: Upload, root: Path) -> CodeArtifact:
    if upload.kind == "inline":
        text = upload.content or ""
        return CodeArtifact(s3_uri=upload.s3_uri, kind="inline", sha256=text_digest(text), content=text)
    if upload.kind == "file":
        (path,) = upload.sources
        files = [SourceFile(path=path, arcname=Path(path).name, sha256=sha256_file(root / path))]
    else:
        files = [item for source in upload.sources for item in _tar_members(root, source)]
    return CodeArtifact(s3_uri=upload.s3_uri, kind=upload.kind, sha256=content_digest(files), files=files)


def _tar_members(root: Path, source: str) -> list[SourceFile]:
    """The files the SDK put in a tarball for one top-level source (a file or a directory,
    stored under its base name), as tarfile.add would walk them."""
    top = root / source
    if top.is_file():
        return [SourceFile(path=source, arcname=top.name, sha256=sha256_file(top))]
    members = []
    for dirpath, dirnames, filenames in os.walk(top):
        dirnames.sort()
        for name in sorted(filenames):
            full = Path(dirpath, name)
            rel = full.relative_to(root).as_posix()
            arcname = (Path(top.name) / full.relative_to(top)).as_posix()
            members.append(SourceFile(path=rel, arcname=arcname, sha256=sha256_file(full)))
    return members
