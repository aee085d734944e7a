"""The seal of a render: digests of the definition, the settings and the code artifact list,
recorded in the manifest, so apply refuses rendered files someone edited by hand."""

from __future__ import annotations

import dataclasses

from smpipe_gen.canonical import canonical_json
from smpipe_gen.digests import text_digest
from smpipe_gen.errors import SmpipeError
from smpipe_gen.manifest import MANIFEST_FORMAT, CodeArtifact, Manifest, PipelineSettings, as_json


def settings_digest(settings: PipelineSettings) -> str:
    return text_digest(canonical_json(as_json(settings)))


def artifacts_digest(items: tuple[CodeArtifact, ...]) -> str:
    return text_digest(canonical_json(as_json(items)))


def sealed(manifest: Manifest, definition_text: str) -> Manifest:
    """``manifest`` with the digests of the definition it goes with, of its own settings and of
    its artifact list."""
    return dataclasses.replace(manifest, format=MANIFEST_FORMAT, definition_sha256=text_digest(definition_text),
                               settings_sha256=settings_digest(manifest.pipeline),
                               artifacts_sha256=artifacts_digest(manifest.artifacts))


def verify_seal(manifest: Manifest, definition_text: str, where: str) -> None:
    """Refuse a definition, manifest settings or artifact list changed after render (apply trusts
    all three: an artifact entry names the repository file it uploads and the S3 object it writes)."""
    hint = "re-render with `smpipe-gen render` and commit the result; never edit rendered files"
    if None in (manifest.definition_sha256, manifest.settings_sha256, manifest.artifacts_sha256):
        raise SmpipeError(f"manifest format {manifest.format} does not seal the definition, settings and code "
                          "artifacts, so hand edits cannot be ruled out", where=where, hint=hint)
    if text_digest(definition_text) != manifest.definition_sha256:
        raise SmpipeError("definition.json does not match the digest render recorded in manifest.json",
                          where=where, hint=hint)
    if settings_digest(manifest.pipeline) != manifest.settings_sha256:
        raise SmpipeError("the pipeline settings in manifest.json (name, role, region, bucket, tags, ...) "
                          "do not match the digest render recorded", where=where, hint=hint)
    if artifacts_digest(manifest.artifacts) != manifest.artifacts_sha256:
        raise SmpipeError("the code artifacts in manifest.json (S3 URIs, repository paths, digests) do not match "
                          "the digest render recorded", where=where, hint=hint)
