"""What each step's code bundle holds: the top-level entries of its model's source directory
that its entry point reaches.

SageMaker caches a step on its arguments, and a step's code URI carries the hash of the code it
ships. With one bundle per source directory, editing ``train.py`` changed the code URI of every
step of the model, so Preprocess and Evaluate lost their cache too. A step now ships:

- its entry point's own entry: the file, or the top-level directory it sits in (the original
  framework ships a training entry point's directory);
- every entry holding a module of the source directory the entry point imports, followed
  transitively (``import a.b``, ``from a import b``, relative imports,
  ``importlib.import_module("a")`` with a literal name), found by parsing, never by running;
- every entry holding no Python source (``requirements.txt``, which the containers install;
  data and config files a script may open by path, which no analysis can see);

but never the render's own inputs (config and environment files): a job gets its settings
through the definition, and a description edit must not re-run every step; nor documentation
(``*.md``, ``*.rst``) unless the entry point reaches it as part of a package it imports. Top-level entries
are the unit because that is how the SDK ships dependencies (a directory keeps its layout
under its name). A reached file that does not parse, or is too large to parse safely
(MAX_PARSED_BYTES), ships the whole directory, as ``code_scope: source_directory`` does for
every step.
"""

from __future__ import annotations

import ast
import posixpath
from pathlib import Path
from typing import Iterable, Iterator, Mapping

from smpipe_gen.config.environment import ENV_FILE, ENVIRONMENTS_DIR, environment_names
from smpipe_gen.steps.config_classes import config_class
from smpipe_gen.config.resolve import ResolvedPipeline, ResolvedStep
from smpipe_gen.render import unshipped

ModulePath = tuple[str, ...]
DOCUMENTATION = (".md", ".rst")  # read by people, not by jobs
INFERENCE_MODULE = "inference.py"  # what the inference toolkit imports without SAGEMAKER_PROGRAM
# A reached source larger than this is not parsed (the step ships the whole directory, as for a
# file that does not parse): parsing can take 700 times a file's size in memory (a 1 MB file
# reached by an entry point took 626 to 720 MB, 4 MB 2.4 GB; 256 KiB 180 MB). The largest module
# of Python's standard library, _pydecimal.py, is 229 KB.
MAX_PARSED_BYTES = 256 * 1024


def code_bundles(resolved: ResolvedPipeline, files: Mapping[str, list[str]]) -> dict[str, list[str] | None]:
    """Per step that ships code, the entries of its source directory it ships; None for all of
    it (``code_scope: source_directory``, or a step that reaches every entry), which renders as
    before scoping, at the same code URI. ``files``: each source directory's bundle files,
    repository-relative (paths.bundle_files)."""
    inputs = render_inputs(resolved)
    bundles: dict[str, list[str] | None] = {}
    for step in resolved.steps.values():
        if not config_class(step.cls).ships_code:
            continue
        model = resolved.model(step)
        if model.code_scope == "source_directory":
            bundles[step.name] = None
            continue
        directory = model.source_directory
        inside = _relative_to(directory, files[directory])
        entries = step_entries(resolved.root / directory, inside, code_entry_point(resolved, step),
                               _relative_to(directory, inputs))
        bundles[step.name] = entries if entries and entries != top_entries(inside) else None
    return bundles


def unshipped_references(resolved: ResolvedPipeline, files: Mapping[str, list[str]],
                         bundles: Mapping[str, list[str] | None]) -> list[unshipped.Unshipped]:
    """What the code each step ships refers to that its bundle leaves out (render/unshipped.py)."""
    shipped: dict[str, dict[str, list[str]]] = {}
    for step, entries in bundles.items():
        directory = resolved.model(resolved.steps[step]).source_directory
        inside = _relative_to(directory, files[directory])
        shipped.setdefault(directory, {})[step] = [path for path, rel in zip(files[directory], inside)
                                                   if entries is None or rel.split("/", 1)[0] in entries]
    return [item for directory, steps in sorted(shipped.items())
            for item in unshipped.find(resolved.root, directory, files[directory], steps)]


def code_entry_point(resolved: ResolvedPipeline, step: ResolvedStep) -> str | None:
    """The script a step runs: its section's entry point; for a model, the transform entry point
    the inference toolkit imports (``inference.py`` without one)."""
    if config_class(step.cls).ships_code == "model":
        transform = resolved.model(step).transform
        return transform.entry_point if transform and transform.entry_point else INFERENCE_MODULE
    return getattr(step.section, "entry_point", None)


def render_inputs(resolved: ResolvedPipeline) -> list[str]:
    """The files render reads its settings from (repository-relative): never shipped as code."""
    environments = [f"{ENVIRONMENTS_DIR}/{name}.env" for name in environment_names(resolved.root)]
    return [*resolved.spec.config_files, ENV_FILE, *environments]


def _relative_to(directory: str, paths: Iterable[str]) -> list[str]:
    prefix = "" if posixpath.normpath(directory) == "." else posixpath.normpath(directory) + "/"
    return [path[len(prefix):] for path in paths if path.startswith(prefix)]


def top_entries(files: Iterable[str]) -> list[str]:
    """The top-level entries (file or directory names) of a directory's ``files``
    (paths relative to it, POSIX separators), sorted."""
    return sorted({name.split("/", 1)[0] for name in files})


def step_entries(directory: Path, files: Iterable[str], entry_point: str | None,
                 inputs: Iterable[str] = ()) -> list[str]:
    """The entries of ``directory`` one step ships. ``files``: the directory's bundle files
    relative to it; ``inputs``: the render's own input files among them (left out)."""
    excluded = set(inputs)
    shipped = sorted(set(files) - excluded)
    reached = _reached_files(Path(directory), set(shipped), entry_point) if entry_point else set()
    if reached is None:
        return top_entries(shipped)
    python_entries = {name.split("/", 1)[0] for name in shipped if name.endswith(".py")}
    resources = set(top_entries(name for name in shipped if not name.endswith(DOCUMENTATION))) - python_entries
    return sorted(resources | {name.split("/", 1)[0] for name in reached})


def _reached_files(directory: Path, files: set[str], entry_point: str) -> set[str] | None:
    """The Python files of ``files`` that running ``entry_point`` may import (itself included);
    None when one of them cannot be parsed."""
    entry = posixpath.normpath(entry_point)
    roots: list[ModulePath] = [()]  # python -m from the bundle root; the training toolkit's code dir
    if "/" in entry:
        roots.append(tuple(posixpath.dirname(entry).split("/")))  # a script's own directory
    reached: set[str] = set()
    todo = [entry]
    while todo:
        path = todo.pop()
        if path in reached or path not in files:
            continue
        reached.add(path)
        try:
            if (directory / path).stat().st_size > MAX_PARSED_BYTES:
                return None
            tree = ast.parse((directory / path).read_bytes(), filename=path)
        except (SyntaxError, ValueError, OSError, RecursionError, MemoryError):  # ValueError: NUL bytes;
            return None  # the last two: a file nested deeper than the parser goes (hostile or generated)
        for module, names in _imports(tree, path, roots):
            todo.extend(_module_files(module, names, files))
    return reached


def _imports(tree: ast.AST, path: str, roots: list[ModulePath]) -> Iterator[tuple[ModulePath, list[str]]]:
    """(module path inside the bundle, names imported from it) for every import in ``tree``,
    once per search root for absolute imports."""
    package = tuple(posixpath.dirname(path).split("/")) if "/" in path else ()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                for root in roots:
                    yield root + tuple(alias.name.split(".")), []
        elif isinstance(node, ast.ImportFrom):
            names = [alias.name for alias in node.names if alias.name != "*"]
            module = tuple(node.module.split(".")) if node.module else ()
            if node.level:
                base = package[:len(package) - (node.level - 1)] if node.level - 1 <= len(package) else ()
                yield base + module, names
            else:
                for root in roots:
                    yield root + module, names
        elif isinstance(node, ast.Call) and _is_dynamic_import(node.func) and node.args:
            first = node.args[0]
            if isinstance(first, ast.Constant) and isinstance(first.value, str) and not first.value.startswith("."):
                for root in roots:
                    yield root + tuple(first.value.split(".")), []


def _is_dynamic_import(func: ast.expr) -> bool:
    """``importlib.import_module(...)``, ``import_module(...)`` or ``__import__(...)``."""
    if isinstance(func, ast.Attribute):
        return func.attr == "import_module"
    return isinstance(func, ast.Name) and func.id in ("import_module", "__import__")


def _module_files(module: ModulePath, names: list[str], files: set[str]) -> list[str]:
    """The files importing ``module`` (and ``names`` from it, which may be submodules) runs:
    each package's ``__init__.py`` on the way and the module itself."""
    found = []
    for depth in range(1, len(module) + 1):
        found.append("/".join(module[:depth]) + "/__init__.py")
    candidates = [module + (name,) for name in names] + ([module] if module else [])
    for candidate in candidates:
        stem = "/".join(candidate)
        found += [stem + ".py", stem + "/__init__.py"]
    return [name for name in found if name in files]
