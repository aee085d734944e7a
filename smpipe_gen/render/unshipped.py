"""Files a step's code refers to that its bundle does not hold, found before merge.

Each step ships only what its entry point imports (render/bundles.py), so a script that starts
``helper.py`` with ``subprocess``, runs it with ``runpy``, imports a module by a computed name, or
opens ``settings.py`` by path finds nothing in SageMaker, and nothing says so until a job fails.
This module reads the shipped Python files (parsing, never importing or running them) and finds
what they name that the bundle leaves out:

- a string naming a file of the source directory (``"helper.py"``, ``f"{HERE}/conf/cols.json"``,
  ``"/opt/ml/processing/input/code/helper.py"``), or a module run by name (``runpy.run_module``,
  ``python -m name``);
- an import whose module name is computed (``import_module(f"plugins.{name}")`` names what is
  under ``plugins/``; a name with no literal part, every module left out);
- a path built at run time from the script's own place (``Path(__file__).parent / name``) and
  handed to ``open``, ``subprocess``, ``runpy`` or ``pkgutil``: every file left out beside it.

No pydantic and no SDK here: validate, plan and run --local all use it.
"""

from __future__ import annotations

import ast
import posixpath
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator, Mapping

_MODULE_NAME = re.compile(r"^[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*$")
_RUNNERS = {"run_module": "runs it with runpy", "run_path": "runs it with runpy", "get_data": "reads it with pkgutil",
            "open": "opens it", "system": "starts it", "Popen": "starts it with subprocess",
            "run": "starts it with subprocess", "call": "starts it with subprocess",
            "check_call": "starts it with subprocess", "check_output": "starts it with subprocess",
            "exec_module": "imports it", "spec_from_file_location": "imports it", "read_text": "reads it",
            "read_bytes": "reads it", "load": "reads it"}
_IMPORTS = ("import_module", "__import__")
_PATH_METHODS = ("open", "read_text", "read_bytes")


@dataclass(frozen=True)
class Clue:
    """One place in a shipped file that refers to files of the source directory."""

    line: int
    how: str  # "names it", "imports a module by a computed name", ...
    targets: frozenset[str]  # paths relative to the source directory


@dataclass
class Unshipped:
    """A shipped file that refers to files some step shipping it leaves out."""

    file: str  # repository path of the file that refers
    line: int
    how: str
    targets: list[str]  # repository paths left out
    steps: list[str] = field(default_factory=list)  # steps whose bundle holds ``file`` but not the targets

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}"

    def message(self) -> str:
        """``scripts/helper.py: it starts it with subprocess, but the code of X leaves it out``."""
        it = "it" if len(self.targets) == 1 else "them"
        return (f"{', '.join(self.targets)}: this line {self.how.replace('it', it, 1)}, but the code bundle of "
                f"{', '.join(self.steps)} leaves {it} out (each step ships only what its entry point imports)")


HINT = ("set `code_scope: source_directory` on the model to ship the whole source directory, or import the "
        "module from the step's code so its bundle holds it")


def find(root: Path, directory: str, files: Iterable[str], shipped: Mapping[str, Iterable[str]]) -> list[Unshipped]:
    """Per (file, line, target set): what a shipped Python file of ``directory`` refers to that
    a step shipping it leaves out. ``files``: the directory's bundle files, ``shipped``: step ->
    the files its bundle holds; both repository-relative."""
    prefix = "" if posixpath.normpath(directory) == "." else posixpath.normpath(directory) + "/"
    inside = sorted(path[len(prefix):] for path in files if path.startswith(prefix))
    clues: dict[str, list[Clue]] = {}
    found: dict[tuple[str, int, str, tuple[str, ...]], Unshipped] = {}
    for step, step_files in sorted(shipped.items()):
        bundle = {path[len(prefix):] for path in step_files if path.startswith(prefix)}
        for name in sorted(path for path in bundle if path.endswith(".py")):
            if name not in clues:
                clues[name] = list(_clues(Path(root) / directory / name, name, inside))
            for clue in clues[name]:
                left_out = tuple(sorted(prefix + target for target in clue.targets if target not in bundle))
                if left_out:
                    item = found.setdefault((prefix + name, clue.line, clue.how, left_out),
                                            Unshipped(prefix + name, clue.line, clue.how, list(left_out)))
                    item.steps.append(step)
    return sorted(found.values(), key=lambda u: (u.file, u.line, u.targets))


def _clues(path: Path, name: str, files: list[str]) -> Iterator[Clue]:
    """What ``name`` (relative to the source directory) refers to among ``files``."""
    try:
        tree = ast.parse(path.read_bytes(), filename=name)
    except (SyntaxError, ValueError, OSError, RecursionError, MemoryError):
        return  # bundles.py ships the whole directory for a file it cannot parse
    here = posixpath.dirname(name)
    seen: set[int] = set()  # string nodes a call's clue already covers
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            clue = _call_clue(node, name, here, files)
            if clue is not None:
                seen.update(id(child) for arg in _arguments(node) for child in ast.walk(arg))
                yield clue
        elif isinstance(node, (ast.List, ast.Tuple)):
            yield from _module_flags(node, files)
    docstrings = {id(node.value) for node in ast.walk(tree) if isinstance(node, ast.Expr)}
    for node in ast.walk(tree):
        if isinstance(node, (ast.Constant, ast.JoinedStr)) and id(node) not in seen | docstrings:
            targets = set().union(*(_named(text, here, files) for text in _strings(node))) - {name}
            if targets:
                yield Clue(node.lineno, "names it", frozenset(targets))


def _call_clue(node: ast.Call, name: str, here: str, files: list[str]) -> Clue | None:
    """What one call refers to: a computed import, a module run by name, or a file a runner
    (open, subprocess, runpy, pkgutil) gets by a literal path or by one built from __file__."""
    function, arguments = _called(node.func), _arguments(node)
    if function in _IMPORTS and node.args and not isinstance(node.args[0], ast.Constant):
        literal = _literal_prefix(node.args[0])
        package = literal.rsplit(".", 1)[0].replace(".", "/") if "." in literal else ""
        targets = [f for f in files if f.endswith(".py") and f != name and (not package or f.startswith(package + "/"))]
        return Clue(node.lineno, "imports a module by a computed name", frozenset(targets)) if targets else None
    if function not in _RUNNERS:
        return None
    if function == "run_module" and node.args and _string(node.args[0]):
        targets = _module_files(_string(node.args[0]), files)
    else:
        targets = sorted(set().union(*(_named(text, here, files) for arg in arguments for text in _strings(arg))))
    if targets:
        return Clue(node.lineno, _RUNNERS[function], frozenset(targets) - {name})
    if any(_from_own_place(arg) for arg in arguments):
        beside = [f for f in files if f != name and (not here or f.startswith(here + "/"))]
        if beside:
            return Clue(node.lineno, f"{_RUNNERS[function]} by a path built at run time", frozenset(beside))
    return None


def _called(func: ast.expr) -> str:
    return func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""


def _arguments(node: ast.Call) -> list[ast.expr]:
    """A call's arguments, and the path a method such as ``Path.read_text`` is called on."""
    receiver = [node.func.value] if isinstance(node.func, ast.Attribute) and node.func.attr in _PATH_METHODS else []
    return [*receiver, *node.args, *(keyword.value for keyword in node.keywords)]


def _string(node: ast.expr) -> str:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else ""


def _strings(node: ast.AST) -> Iterator[str]:
    """The literal text of a string constant, or of each literal piece of an f-string."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        yield node.value
    elif isinstance(node, ast.JoinedStr):
        for value in node.values:
            if isinstance(value, ast.Constant) and isinstance(value.value, str):
                yield value.value
    elif not isinstance(node, ast.Constant):
        for child in ast.iter_child_nodes(node):
            yield from _strings(child)


def _literal_prefix(node: ast.expr) -> str:
    """``plugins.`` for ``f"plugins.{name}"`` or ``"plugins." + name``."""
    if isinstance(node, ast.JoinedStr) and node.values and isinstance(node.values[0], ast.Constant):
        return str(node.values[0].value)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        return _string(node.left) or _literal_prefix(node.left)
    return ""


def _from_own_place(node: ast.expr) -> bool:
    """Whether an expression builds a path from the script's own place (``__file__``)."""
    return any(isinstance(child, ast.Name) and child.id == "__file__" for child in ast.walk(node))


def _named(text: str, here: str, files: list[str]) -> set[str]:
    """The files a literal names: its path relative to the source directory or to the file's
    own directory, a path ending in one (``/opt/ml/code/helper.py``), or a file name that ends
    one. Texts without a ``.`` or a ``/`` name no file (``"train"`` is a word, not a path)."""
    text = text.strip().removeprefix("./")
    if not text or len(text) > 300 or "\n" in text or not ("." in text or "/" in text):
        return set()
    text = text.lstrip("/")
    own = posixpath.normpath(posixpath.join(here, text)) if here else text
    return {f for f in files if f in (text, own) or f.endswith("/" + text) or text.endswith("/" + f)}


def _module_flags(node: ast.List | ast.Tuple, files: list[str]) -> Iterator[Clue]:
    """``[sys.executable, "-m", "tools.helper"]``: the module an argument list runs."""
    texts = [_string(item) for item in node.elts]
    for flag, module in zip(texts, texts[1:]):
        if flag == "-m" and _MODULE_NAME.match(module):
            targets = _module_files(module, files)
            if targets:
                yield Clue(node.lineno, "starts it with python -m", frozenset(targets))


def _module_files(module: str, files: list[str]) -> list[str]:
    """The files running ``module`` needs: its packages' ``__init__.py`` and the module itself."""
    parts = module.split(".")
    stem = "/".join(parts)
    packages = ["/".join(parts[:depth]) + "/__init__.py" for depth in range(1, len(parts))]
    return [f for f in (*packages, f"{stem}.py", f"{stem}/__init__.py", f"{stem}/__main__.py") if f in files]
