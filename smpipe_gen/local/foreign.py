"""Running a definition this tool did not render (``run --local --definition FILE --code DIR``).

No manifest exists, so one is derived: every ``s3://`` string in the definition that names an
object present in the code folder becomes a code artifact served from there. The object for
``s3://bucket/a/b/c.py`` is the file under the folder whose relative path is the LONGEST suffix
of ``bucket/a/b/c.py`` that exists (``bucket/a/b/c.py``, ``a/b/c.py``, ``b/c.py``, then
``c.py``). So a folder mirroring the bucket serves every key exactly, and a flat folder of
scripts and ``sourcedir.tar.gz`` bundles serves them by file name; the SDK's timestamped repack
bundle is found by its key as captured (``run --local --pipeline``) or by its file name. A code
object the folder does not hold (one a CI uploaded before the build) is next looked for in the
run's ``--data``: ``s3://bucket/prefix/k`` is ``DIR/k`` of ``--data s3://bucket/prefix=DIR``.

A folder holding the program's scripts rather than what the SDK uploaded serves the code objects
that are missing from both: a script by its file name anywhere in the folder, a ``sourcedir.tar.gz``
built from the folder of the entry point it runs (the training job's ``sagemaker_program``, the
model's ``SAGEMAKER_PROGRAM``, the script the processing job's entrypoint or bootstrap names),
as the SDK builds it from ``source_dir``. Every code object a step runs is resolved before the
first step starts. A shell script (the FrameworkProcessor's ``runproc.sh`` bootstrap) is served
as text, so the runner satisfies the requirements it would pip-install, as for rendered ones.
"""

from __future__ import annotations

import os
import re
from pathlib import Path, PurePosixPath
from typing import Any

from smpipe_gen.digests import content_digest, text_digest
from smpipe_gen.manifest import CodeArtifact, Manifest, PipelineSettings, SourceFile
from smpipe_gen.definition import Definition, Step
from smpipe_gen.json_values import strings
from smpipe_gen.errors import SmpipeError
from smpipe_gen.local.code import object_digest
from smpipe_gen.local.endpoint import ROLE
from smpipe_gen.local.store import seeded_file, split_uri

BUNDLE = (".tar.gz", ".tgz", ".tar")
_RUN_LINE = re.compile(r'(?m)^\s*\S.*?\s(\S+)\s+"\$@"\s*$')  # the bootstrap's last line: python entry.py "$@"
_NOT_SOURCES = ("__pycache__", "node_modules", "site-packages")


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


def derived_manifest(definition: Definition, folder: Path, name: str, region: str,
                     seeds: dict[str, Path] | None = None, captured: bool = False) -> Manifest:
    """A manifest for a foreign definition: its code objects found in (or built from) ``folder``,
    else in the run's ``--data`` ``seeds`` (where a CI's ``aws s3 cp`` before the build puts them).
    ``captured``: ``folder`` holds a program's uploads, rewritten by each build (refusals say so)."""
    folder = Path(folder).resolve()
    found: dict[str, CodeArtifact] = {}
    for _key, uri in strings(definition.data.get("Steps", ())):
        if uri.startswith("s3://") and uri not in found:
            path = served_file(uri, folder)
            if path is not None:
                found[uri] = _object(uri, path, folder)
    for step in definition:  # scripts first: a bootstrap among them names the script of its bundle
        for code in sorted(step.code, key=lambda code: code.s3_uri.endswith(BUNDLE)):
            if code.s3_uri in found:
                continue
            seeded = seeded_file(seeds or {}, code.s3_uri)
            found[code.s3_uri] = _object(code.s3_uri, seeded, folder) if seeded else \
                _from_scripts(step, code.s3_uri, folder, found, captured)
    bucket = next((u[5:].split("/", 1)[0] for u in sorted(found)), "smpipe-local")
    return Manifest(generator="smpipe-gen run --definition", config_files=[],
                    pipeline=PipelineSettings(name=name, role_arn=ROLE, region=region, bucket=bucket),
                    artifacts=[found[uri] for uri in sorted(found)])


def _object(uri: str, path: Path, folder: Path) -> CodeArtifact:
    """The artifact serving ``path`` as object ``uri``: a shell script as its text (inline)."""
    if path.suffix == ".sh":
        try:
            text = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            pass
        else:
            return CodeArtifact(s3_uri=uri, kind="inline", sha256=text_digest(text), content=text)
    digest = object_digest(path)
    return CodeArtifact(s3_uri=uri, kind="file", sha256=digest,  # a --data file's path climbs out of folder
                        files=[SourceFile(path=Path(os.path.relpath(path, folder)).as_posix(), arcname=path.name,
                                          sha256=digest)])


def _from_scripts(step: Step, uri: str, folder: Path, found: dict[str, CodeArtifact], captured: bool) -> CodeArtifact:
    """A code object missing from ``folder`` made from the scripts in it, or a one-line refusal."""
    try:
        split_uri(uri)  # a key with '..' names no object: refused as such, never looked for
    except SmpipeError as error:
        error.where = f"step {step.name}"
        raise
    name = uri.rsplit("/", 1)[-1]
    bundle = name.endswith(BUNDLE)
    entry = entry_point(step.json(), uri, found) if bundle else name
    homes = _homes(folder, entry) if entry else []
    if len(homes) != 1:
        raise _refusal(step, uri, folder, entry, homes, captured)
    home = homes[0]
    if not bundle:
        return _object(uri, home / entry, folder)
    files = [SourceFile(path=p.relative_to(folder).as_posix(), arcname=p.relative_to(home).as_posix(),
                        sha256=object_digest(p)) for p in _sources(home)]
    return CodeArtifact(s3_uri=uri, kind="sourcedir", sha256=content_digest(files), files=files)


def _refusal(step: Step, uri: str, folder: Path, entry: str | None, homes: list[Path], captured: bool) -> SmpipeError:
    """Why no file serves code object ``uri``, and where to put it: an object uploaded before the
    build goes in with ``--data`` (a captured program's folder is rewritten by every build)."""
    name = uri.rsplit("/", 1)[-1]
    data = f"--data s3://{uri[len('s3://'):].rpartition('/')[0]}=./DIR with {name} in DIR"
    if captured:
        return SmpipeError(f"code object {uri} is neither uploaded by the program nor under a --data prefix",
                           where=f"step {step.name}", hint=f"pass the folder it is uploaded from: {data}")
    shown = ", ".join(sorted(str(home.relative_to(folder)) for home in homes))
    what = f"its entry point {entry} is" if name.endswith(BUNDLE) else f"a file named {name} is"
    place = f", and {what} in {len(homes)} of its folders ({shown})" if homes else \
        f", and {what} in none of its folders" if entry else ""
    fix = f"point --code at the one folder holding {entry}" if entry else "run the SDK program with --pipeline"
    return SmpipeError(f"code object {uri} is not in {folder}{place}", where=f"step {step.name}",
                       hint=f"put the object itself there (aws s3 cp {uri} {folder}/), {fix}, or pass {data}")


def entry_point(step: dict[str, Any], uri: str, found: dict[str, CodeArtifact]) -> str | None:
    """The script a code bundle ``uri`` exists to run, as the step names it (relative to the bundle)."""
    from smpipe_gen.local.jobs.training import decode_hyperparameters

    args = step.get("Arguments", {})
    for spec in [args, *([args.get("TrainingJobDefinition", {})] if "TrainingJobDefinition" in args else []),
                 *args.get("TrainingJobDefinitions", [])]:
        hps = decode_hyperparameters({**spec.get("StaticHyperParameters", {}), **spec.get("HyperParameters", {})})
        if hps.get("sagemaker_submit_directory") == uri and isinstance(hps.get("sagemaker_program"), str):
            return hps["sagemaker_program"]
    for container in [args.get("PrimaryContainer", {}), *args.get("Containers", [])]:
        env = container.get("Environment", {})
        if env.get("SAGEMAKER_SUBMIT_DIRECTORY") == uri and env.get("SAGEMAKER_PROGRAM"):
            return env["SAGEMAKER_PROGRAM"]
    inputs = {str(i["S3Input"].get("LocalPath", "")).rstrip("/"): i["S3Input"]["S3Uri"]
              for i in args.get("ProcessingInputs", []) if isinstance(i.get("S3Input", {}).get("S3Uri"), str)}
    local = next((path for path, source in inputs.items() if source == uri), None)
    for word in args.get("AppSpecification", {}).get("ContainerEntrypoint", []) if local else ():
        if not isinstance(word, str):
            continue
        if word.startswith(local + "/"):
            return word[len(local) + 1:]
        script = found.get(inputs.get(word.rsplit("/", 1)[0]))
        if script is not None and script.kind == "inline":  # the SDK's bootstrap: its last line runs the entry point
            run = _RUN_LINE.findall(script.content or "")
            return run[-1] if run else None
    return None


def _homes(folder: Path, entry: str) -> list[Path]:
    """The folders under ``folder`` (itself included) holding ``entry``, hidden and virtual
    environment folders left out."""
    homes = []
    for directory, subdirs, _files in os.walk(folder):
        subdirs[:] = sorted(d for d in subdirs if not d.startswith(".") and d not in _NOT_SOURCES
                            and not (Path(directory, d) / "pyvenv.cfg").exists())
        if (Path(directory) / entry).is_file():
            homes.append(Path(directory))
    return homes


def _sources(home: Path) -> list[Path]:
    """The files a bundle of ``home`` holds, as the SDK packs ``source_dir`` (no caches)."""
    found = []
    for directory, subdirs, files in os.walk(home):
        subdirs[:] = sorted(d for d in subdirs if d not in _NOT_SOURCES and not d.startswith("."))
        found += [Path(directory, f) for f in sorted(files) if not f.endswith(".pyc")]
    return found


def pipeline_name(definition_file: Path) -> str:
    """A name for a definition file: its stem, or its folder's name for ``definition.json``."""
    path = Path(definition_file).resolve()
    stem = path.stem
    return path.parent.name if stem in ("definition", "pipeline") and path.parent.name else stem
