"""A fast ``check``: skip the render, and with it the SageMaker SDK, when nothing it reads changed.

When ``render`` writes the artifacts, or ``check`` finds them current, this machine records the
state it verified: one digest of everything a render reads (the config files, the framework
variables that env.env, the environment file, -E, --env and the process environment produce,
every file of every code bundle, smpipe-gen's own files, the interpreter and the installed
distributions, the SDK among them) together with the bytes of the committed artifacts. ``check``
recomputes that digest in milliseconds and renders only when no recorded state matches, so a
hand-edited artifact, a new tracked file or an SDK upgrade always gets a real render.

The record lives in the user's cache directory, never in the repository: a digest committed next
to the artifacts could be recomputed by whoever edits them (a pull request is untrusted), and a
tool pinned at a git commit keeps its version string, so a committed record keyed by the version
would call a render current after the pin moved. A fresh CI checkout therefore always renders.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import os
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from smpipe_gen import digests
from smpipe_gen.errors import SmpipeError
from smpipe_gen.paths import write_atomic
from smpipe_gen.project import DEFAULT_OUTPUT_DIR, RENDER_FILES, Project

CACHE_VARIABLE = "SMPIPE_CACHE_DIR"  # where the records live; default ~/.cache/smpipe-gen/check
_PACKAGE = Path(__file__).resolve().parent
_FORMAT = "1"  # bump when what goes into a digest changes
_KEEP_SECONDS = 90 * 24 * 3600  # a record neither written nor found for this long is deleted


@dataclass(frozen=True)
class Fingerprint:
    inputs: str  # everything but the code bundles and the artifacts; names the record
    code_directories: tuple[str, ...]  # the models' source directories (the config names them)
    state: str  # inputs + the code bundles' files + the committed artifacts


def installed_sdk_version() -> str | None:
    """The SageMaker SDK's version, read from its metadata (importing it takes seconds)."""
    from importlib import metadata

    try:
        return metadata.version("sagemaker")
    except metadata.PackageNotFoundError:
        return None


def verified(project: Project, overrides: Mapping[str, str]) -> bool:
    """True when a render on this machine found exactly this state current."""
    inputs = inputs_digest(project, overrides)
    record = _read_record(inputs) if inputs else None
    if record is None:
        return False
    now = take(project, overrides, tuple(record["code_directories"]), inputs)
    if now is None or now.state != record["state"]:
        return False
    try:
        os.utime(_cache_dir() / f"{inputs}.json")  # in use: keep it (see _prune)
    except OSError:
        pass
    return True


def remember(project: Project, overrides: Mapping[str, str], inputs_before: str | None,
             code_directories: tuple[str, ...]) -> None:
    """Record the current state as verified, unless the inputs changed while the render ran
    (``inputs_before`` was taken before it read them, and the manifest holds the digest of every
    file the render packed). A cache that cannot be written is skipped."""
    if inputs_before is None:
        return
    now = take(project, overrides, code_directories)
    if now is None or now.inputs != inputs_before or not _packed_files_unchanged(project):
        return
    record = {"code_directories": list(now.code_directories), "state": now.state}
    try:
        write_atomic(_cache_dir() / f"{now.inputs}.json", json.dumps(record))
        _prune(_cache_dir())
    except OSError:
        pass


def _prune(directory: Path) -> None:
    """Delete records unused for _KEEP_SECONDS, so the cache does not grow with every edit."""
    cutoff = time.time() - _KEEP_SECONDS
    with os.scandir(directory) as entries:
        for entry in entries:
            if entry.name.endswith(".json") and entry.stat().st_mtime < cutoff:
                Path(entry.path).unlink(missing_ok=True)


def inputs_digest(project: Project, overrides: Mapping[str, str]) -> str | None:
    """Digest of the tool, the interpreter, the installed distributions, the framework variables
    and the config files; None when they cannot be read (the render will say why)."""
    from smpipe_gen.config.environment import framework_variables

    root = project.root
    try:
        variables = framework_variables(root, os.environ, overrides, project.environment, validate=False)
        files = _config_files(root, variables)
    except (SmpipeError, OSError, ValueError, NotImplementedError):
        return None
    digest = _Digest()
    digest.add("format", _FORMAT)
    digest.add("tool", _tool_digest())
    digest.add("python", sys.implementation.name, sys.version)
    digest.add("distributions", *_distributions())
    digest.add("environment", project.environment or "")
    digest.add("out", _relative(project.output_dir, root), _relative(project.renders_dir, root))
    for key in sorted(variables):
        digest.add("variable", key, variables[key])
    for path in files:
        digest.file("config", root, path)
    return digest.hexdigest()


def take(project: Project, overrides: Mapping[str, str], code_directories: tuple[str, ...],
         inputs: str | None = None) -> Fingerprint | None:
    """The full fingerprint: the inputs, the code bundles' files (the tracked-files rule of
    paths.bundle_files), every name under the source directories (validation looks at some, such
    as setup.py), the committed artifacts' bytes and whether their local_data paths exist."""
    inputs = inputs or inputs_digest(project, overrides)
    if inputs is None:
        return None
    root = project.root
    digest = _Digest()
    digest.add("inputs", inputs)
    for directory in sorted(code_directories):
        digest.add("directory", directory, *_names_under(root / directory))
    for path in code_files(project, code_directories):
        digest.file("code", root, path)
    for name in RENDER_FILES:
        digest.file("artifact", root, project.output_dir / name)
    for path in _local_data_paths(project.manifest_json):
        digest.add("local_data", path, str((root / path).exists()))
    return Fingerprint(inputs, tuple(sorted(code_directories)), digest.hexdigest())


def _config_files(root: Path, variables: Mapping[str, str]) -> list[Path]:
    """The framework conf (present or not) and the model files SMP_MODEL_CONFIGPATH matches,
    each refused unless it stays inside the repository (as the loader refuses them)."""
    from smpipe_gen.config.environment import DEFAULT_FRAMEWORK_CONF
    from smpipe_gen.paths import inside

    names = [variables.get("SMP_FRAMEWORK_CONFPATH") or DEFAULT_FRAMEWORK_CONF]
    names += sorted(path.relative_to(root).as_posix()
                    for path in root.glob(variables["SMP_MODEL_CONFIGPATH"]) if path.is_file())
    return [inside(root, name, where=name, what="config file", hint="") for name in names]


def code_files(project: Project, code_directories: tuple[str, ...]) -> list[Path]:
    """The files the code bundles of ``code_directories`` hold (the tracked-files rule of
    paths.bundle_files, with the output directories left out as render leaves them out)."""
    from smpipe_gen.paths import bundle_files

    root = project.root
    excluded = {root / DEFAULT_OUTPUT_DIR, project.renders_dir}
    return [root / name for directory in sorted(code_directories) for name in bundle_files(root, directory, excluded)]


class _Digest:
    """sha256 over length-prefixed fields, so no two different field lists give the same bytes."""

    def __init__(self) -> None:
        self._hash = hashlib.sha256()

    def add(self, *fields: str) -> None:
        for field in fields:
            data = field.encode("utf-8", "surrogateescape")
            self._hash.update(b"%d:" % len(data) + data)
        self._hash.update(b"\n")

    def file(self, label: str, root: Path, path: Path) -> None:
        """A file by its name relative to ``root`` and its content (or its absence)."""
        shown = _relative(path, root)
        try:
            self.add(label, shown, digests.sha256_file(path) if path.is_file() else "<absent>")
        except OSError as error:
            self.add(label, shown, f"<unreadable: {error.errno}>")

    def hexdigest(self) -> str:
        return self._hash.hexdigest()


def _tool_digest() -> str:
    """This smpipe-gen's own files: a tool installed from a git commit keeps its version string
    while its code changes, so the version alone does not identify what renders."""
    digest = _Digest()
    for path in sorted(_PACKAGE.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
            digest.file("tool", _PACKAGE, path)
    return digest.hexdigest()


def _distributions() -> list[str]:
    """The installed distributions and versions (their metadata directories' names): any install,
    upgrade or removal, the SDK's or a dependency's, counts as a change."""
    names = set()
    for entry in sys.path:
        try:
            names.update(name for name in os.listdir(entry or ".")
                         if name.endswith((".dist-info", ".egg-info")))
        except OSError:
            continue
    return sorted(names)


def _names_under(top: Path) -> list[str]:
    from smpipe_gen.paths import EXCLUDED_NAMES

    names = []
    for dirpath, dirnames, filenames in os.walk(top):
        dirnames[:] = sorted(d for d in dirnames if not any(fnmatch.fnmatch(d, p) for p in EXCLUDED_NAMES))
        names.extend(_relative(Path(dirpath, name), top) for name in sorted(filenames))
    return names


def _packed_files_unchanged(project: Project) -> bool:
    """Every repository file the manifest lists still has the digest the render recorded."""
    try:
        manifest = json.loads(project.manifest_json.read_text(encoding="utf-8"))
        return all(digests.sha256_file(project.root / item["path"]) == item["sha256"]
                   for artifact in manifest.get("artifacts", []) for item in artifact.get("files", []))
    except (OSError, ValueError, AttributeError, KeyError, TypeError):
        return False


def _local_data_paths(manifest_json: Path) -> list[str]:
    try:
        local_data = json.loads(manifest_json.read_text(encoding="utf-8")).get("local_data", {})
        return sorted(str(path) for path in local_data.values())
    except (OSError, ValueError, AttributeError):
        return []


def _relative(path: Path, root: Path) -> str:
    try:
        return Path(path).resolve().relative_to(Path(root).resolve()).as_posix()
    except ValueError:
        return str(path)


def _read_record(inputs: str) -> dict | None:
    try:
        record = json.loads((_cache_dir() / f"{inputs}.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(record, dict) or not isinstance(record.get("state"), str) \
            or not isinstance(record.get("code_directories"), list):
        return None
    return record


def _cache_dir() -> Path:
    if os.environ.get(CACHE_VARIABLE):
        return Path(os.environ[CACHE_VARIABLE])
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base, "smpipe-gen", "check")
