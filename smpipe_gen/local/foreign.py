"""Running a definition this tool did not render (``run --local --definition FILE --code DIR``).

No manifest exists, so one is derived: every ``s3://`` string in the definition that names an
object present in the code folder becomes a code artifact served from there. The object for
``s3://bucket/a/b/c.py`` is the file under the folder whose relative path is the LONGEST suffix
of ``bucket/a/b/c.py`` that exists (``bucket/a/b/c.py``, ``a/b/c.py``, ``b/c.py``, then
``c.py``). So a folder mirroring the bucket serves every key exactly, and a flat folder of
scripts and ``sourcedir.tar.gz`` bundles serves them by file name; the SDK's timestamped repack
bundle is found by its key as captured (``run --local --pipeline``) or by its file name.
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath

from smpipe_gen.artifacts import CodeArtifact, Manifest, PipelineSettings, SourceFile
from smpipe_gen.definition import Definition, strings
from smpipe_gen.errors import SmpipeError
from smpipe_gen.local.code import object_digest
from smpipe_gen.local.store import split_uri

PLACEHOLDER_ROLE = "arn:aws:iam::000000000000:role/smpipe-local"


def served_file(uri: str, folder: Path) -> Path | None:
    """The file under ``folder`` that stands for the S3 object ``uri`` (longest key suffix); never
    one outside it, through ``..`` in the key or a link (``folder`` is resolved)."""
    try:
        bucket, key = split_uri(uri)
    except SmpipeError:  # not a place in a bucket: the run refuses it where it is read as data
        return None
    parts = PurePosixPath(bucket, key).parts
    for start in range(len(parts)):
        candidate = folder.joinpath(*parts[start:])
        if candidate.is_file() and candidate.resolve().is_relative_to(folder):
            return candidate
    return None


def derived_manifest(definition: Definition, folder: Path, name: str, region: str) -> Manifest:
    """A manifest for a foreign definition: its code objects found in ``folder``."""
    folder = Path(folder).resolve()
    found: dict[str, CodeArtifact] = {}
    for _key, uri in strings(definition.data.get("Steps", ())):
        if not uri.startswith("s3://") or uri in found:
            continue
        path = served_file(uri, folder)
        if path is None:
            continue
        rel = path.relative_to(folder).as_posix()
        digest = object_digest(path)
        found[uri] = CodeArtifact(s3_uri=uri, kind="file", sha256=digest,
                                  files=[SourceFile(path=rel, arcname=path.name, sha256=digest)])
    bucket = next((u[5:].split("/", 1)[0] for u in sorted(found)), "smpipe-local")
    return Manifest(generator="smpipe-gen run --definition", config_files=[],
                    pipeline=PipelineSettings(name=name, role_arn=PLACEHOLDER_ROLE, region=region, bucket=bucket),
                    artifacts=[found[uri] for uri in sorted(found)])


def pipeline_name(definition_file: Path) -> str:
    """A name for a definition file: its stem, or its folder's name for ``definition.json``."""
    path = Path(definition_file).resolve()
    stem = path.stem
    return path.parent.name if stem in ("definition", "pipeline") and path.parent.name else stem
