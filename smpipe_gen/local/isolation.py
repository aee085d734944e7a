"""Jobs see the repository only through their bundle.

A job's interpreter is the one running smpipe-gen, with its site-packages: a ``.pth`` file or an
editable install there (or an inherited ``PYTHONPATH``) can put the repository's ``scripts/`` on
the job's path, and then a computed import of a module the bundle leaves out passes locally and
fails in SageMaker. Each job therefore starts with a ``sitecustomize`` module, first on its path,
that drops every path entry inside the repository and refuses any module found there, except
under the run root (where the job's bundle, overlays and working copies live) and the
interpreter's own prefix (a virtual environment inside the repository). It then runs the
``sitecustomize`` it hides, if any.
"""

from __future__ import annotations

import os
import site
import sys
import threading
from pathlib import Path

HIDDEN = "SMPIPE_HIDDEN_ROOTS"
ALLOWED = "SMPIPE_ALLOWED_ROOTS"
_GUARD = '''\
"""Written by smpipe-gen run --local (local/isolation.py): the repository only through the bundle."""
import importlib.machinery, os, sys


def _roots(name):
    return [os.path.realpath(p) for p in os.environ.get(name, "").split(os.pathsep) if p]


_HIDDEN, _ALLOWED = _roots("SMPIPE_HIDDEN_ROOTS"), _roots("SMPIPE_ALLOWED_ROOTS")


def _under(path, roots):
    return any(path == root or path.startswith(root.rstrip(os.sep) + os.sep) for root in roots)


def _hidden(path):
    real = os.path.realpath(path or os.curdir)
    return _under(real, _HIDDEN) and not _under(real, _ALLOWED)


class _RepositoryGuard:
    """Refuses a module that another finder (an editable install's) finds inside the repository."""

    @classmethod
    def find_spec(cls, name, path=None, target=None):
        for finder in sys.meta_path:
            find = getattr(finder, "find_spec", None)
            if finder is cls or find is None:
                continue
            spec = find(name, path, target)
            if spec is None:
                continue
            places = ([spec.origin] if spec.has_location and spec.origin else []) + list(spec.submodule_search_locations or [])
            if any(_hidden(place) for place in places):
                raise ModuleNotFoundError(f"No module named {name!r}", name=name)
            return spec
        return None


here = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.realpath(p or os.curdir) != here and not _hidden(p)]
sys.meta_path.insert(0, _RepositoryGuard)
_hidden_customize = importlib.machinery.PathFinder.find_spec("sitecustomize", sys.path)
if _hidden_customize is not None and _hidden_customize.loader is not None:
    _hidden_customize.loader.exec_module(type(sys)("sitecustomize"))
'''


def guard(run_root: Path, repo_root: Path) -> tuple[Path, dict[str, str]]:
    """The directory to put first on a job's PYTHONPATH, and the variables the guard reads."""
    directory = Path(run_root) / "guard"
    module = directory / "sitecustomize.py"
    if not module.is_file() or module.read_text(encoding="utf-8") != _GUARD:
        directory.mkdir(parents=True, exist_ok=True)
        # one name per thread: two steps starting at once both write it (a shared name lost one rename)
        temporary = directory / f".sitecustomize.{os.getpid()}.{threading.get_ident()}.tmp"
        temporary.write_text(_GUARD, encoding="utf-8")
        temporary.replace(module)
    allowed = [str(run_root), sys.prefix, sys.exec_prefix, sys.base_prefix, *site.getsitepackages()]
    return directory, {HIDDEN: str(Path(repo_root).resolve()), ALLOWED: os.pathsep.join(allowed)}
