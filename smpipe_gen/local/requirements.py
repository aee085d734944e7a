"""Requirements files in local runs: satisfied before the job starts, where the container would
install them (processing: the bootstrap's requirements.txt; training: the code directory's, as the
training toolkit does; inference: the file SAGEMAKER_REQUIREMENTS names), without reinstalling
this machine's packages and never into the interpreter running smpipe-gen.

Most requirements files name packages that interpreter already has: then no pip runs at all. Any
other file is installed once per (content, interpreter) into an overlay environment under the run
root, reused by later steps and runs: a venv without pip of its own whose .pth shows the
interpreter's site-packages, so pip counts those as installed (``--target`` would reinstall every
package, ``--prefix`` uninstalls conflicting ones from the host) and leaves a conflicting host
version alone ("outside environment") while it installs the wanted one into the overlay, which
comes first on the job's PYTHONPATH.

packaging and importlib.metadata are imported where they are used: a run whose jobs have no
requirements file (a cached run, most of all) does not pay their ~40 ms of imports at start-up.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import site
import subprocess
import sys
from pathlib import Path
from typing import IO, TYPE_CHECKING

from smpipe_gen.errors import SmpipeError
from smpipe_gen.local.jobs import JobContext, read_state
from smpipe_gen.local.sandbox import Overlay, host_env
from smpipe_gen.local.store import locked

if TYPE_CHECKING:
    from packaging.requirements import Requirement

READY = "smpipe-ready.json"  # written last: an overlay without it was interrupted and is built again
# pip settings of the user's shell that would send the install elsewhere than the overlay
_PIP_LOCATION = frozenset({"PIP_TARGET", "PIP_PREFIX", "PIP_ROOT", "PIP_USER", "PIP_SRC"})


def host_paths() -> list[str]:
    """Where a job's interpreter (the one running smpipe-gen, see sandbox.python_env) finds
    packages besides an overlay: the PYTHONPATH jobs inherit, then its site directories."""
    inherited = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    user = [site.getusersitepackages()] if site.ENABLE_USER_SITE else []
    return [*inherited, *site.getsitepackages(), *user]


def plain_requirements(text: str) -> list[Requirement] | None:
    """The requirements of a requirements file, or None when a line is more than a requirement
    (an option such as --find-links, a path, a URL, a variable): only pip can tell what it means."""
    from packaging.requirements import InvalidRequirement, Requirement

    joined = re.sub(r"\\\n", "", text)  # pip joins a line ending in a backslash with the next
    found = []
    for raw in joined.splitlines():
        line = re.sub(r"(^|\s)#.*$", "", raw).strip()
        if not line:
            continue
        if line.startswith("-"):
            return None
        try:
            requirement = Requirement(line)
        except InvalidRequirement:
            return None
        if requirement.url:
            return None
        found.append(requirement)
    return found


def missing(requirements: list[Requirement], paths: list[str]) -> list[str]:
    """The requirements, dependencies included, that the distributions found on ``paths`` (the
    first of a name wins, as on sys.path) do not satisfy, markers evaluated for this interpreter:
    what pip would install."""
    import importlib.metadata

    from packaging.requirements import InvalidRequirement, Requirement
    from packaging.utils import canonicalize_name
    from packaging.version import InvalidVersion

    absent: list[str] = []
    seen: set[tuple[str, frozenset[str]]] = set()
    todo = [(r, frozenset({""})) for r in requirements]  # with the extras of the one requiring it
    while todo:
        requirement, extras = todo.pop()
        if requirement.marker and not any(requirement.marker.evaluate({"extra": e}) for e in extras):
            continue
        dist = next(iter(importlib.metadata.distributions(name=requirement.name, path=paths)), None)
        try:
            satisfied = dist is not None and requirement.specifier.contains(dist.version, prereleases=True)
        except InvalidVersion:
            satisfied = False
        if not satisfied:
            absent.append(str(requirement))
            continue
        key = (canonicalize_name(requirement.name), frozenset(requirement.extras))
        if key in seen:
            continue
        seen.add(key)
        for line in dist.requires or []:
            with contextlib.suppress(InvalidRequirement):  # pip does not hold a broken dependency against it either
                todo.append((Requirement(line), frozenset({"", *requirement.extras})))
    return absent


def prepare(ctx: JobContext, file: Path, shown: str) -> Overlay | None:
    """Make the requirements in ``file`` importable by the job; returns the overlay the job needs
    (see JobContext.env), or None when the interpreter running smpipe-gen satisfies them all.
    ``shown`` names the file in messages; pip runs in the file's directory, as in the container."""
    import importlib.metadata

    text = file.read_text(encoding="utf-8", errors="replace")
    requirements = plain_requirements(text)
    host = host_paths()
    if requirements is not None and not missing(requirements, host):
        ctx.say(f"{shown}: the interpreter running smpipe-gen has every package it names; nothing to install")
        return None
    identity = json.dumps([text, sys.executable, sys.version, host])
    root = ctx.run_root / "envs" / hashlib.sha256(identity.encode()).hexdigest()
    shown_root = f"{ctx.run_root.name}/{root.relative_to(ctx.run_root).as_posix()}"
    where = f"step {ctx.name}"
    with locked(root.with_name(root.name + ".lock")):
        ready = read_state(root / READY, "requirements environment")
        overlay = Overlay(root, root / ready["site"]) if ready and isinstance(ready.get("site"), str) else None
        if overlay and (requirements is None or not missing(requirements, [str(overlay.site), *host])):
            ctx.say(f"{shown}: reusing {shown_root}, installed earlier ({', '.join(map(str, ready.get('installed') or []))})")
            return overlay
        ctx.say(f"{shown}: installing what the interpreter running smpipe-gen lacks into {shown_root}")
        overlay = overlay or _create(root, host, where, ctx.log)
        _pip(overlay, file, shown, where, ctx.log, ctx.pass_aws)
        installed = sorted(f"{d.metadata['Name']} {d.version}" for d in importlib.metadata.distributions(path=[str(overlay.site)]))
        (root / READY).write_text(json.dumps({"site": overlay.site.relative_to(root).as_posix(), "installed": installed}),
                                  encoding="utf-8")
        ctx.say(f"{shown}: installed {', '.join(installed) or 'nothing'}; everything else comes from the interpreter "
                "running smpipe-gen")
        return overlay


def _create(root: Path, host: list[str], where: str, log: IO[bytes]) -> Overlay:
    """A fresh overlay (whatever an interrupted build left is removed first) that sees ``host``."""
    shutil.rmtree(root, ignore_errors=True)
    _run([sys.executable, "-m", "venv", "--without-pip", str(root)], log, where, "creating the overlay environment failed")
    purelib = subprocess.run([str(root / "bin" / "python"), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                             capture_output=True, text=True, check=True).stdout.strip()
    overlay = Overlay(root, Path(purelib))
    (overlay.site / "_smpipe_host.pth").write_text("".join(f"{p}\n" for p in host), encoding="utf-8")
    return overlay


def _pip(overlay: Overlay, file: Path, shown: str, where: str, log: IO[bytes], pass_aws: bool) -> None:
    env = {k: v for k, v in os.environ.items() if k.startswith("PIP_") and k not in _PIP_LOCATION}
    env.update({k: v for k, v in host_env(pass_aws).items() if k != "PYTHONPATH"})  # the overlay's .pth has it
    env.update({"PIP_DISABLE_PIP_VERSION_CHECK": "1", "PIP_NO_INPUT": "1"})
    _run([str(overlay.bin / "python"), "-m", "pip", "install", "--no-warn-script-location", "-r", file.name],
         log, where, f"installing {shown} failed", env=env, cwd=file.parent,
         hint="pip's output is in the step log; fix the file, or make its packages reachable (an index, --find-links)")


def _run(argv: list[str], log: IO[bytes], where: str, failure: str, *, env: dict[str, str] | None = None,
         cwd: Path | None = None, hint: str = "the step log has the command's output") -> None:
    """Run a command with its output in the step log; a failure is one line with its last error."""
    log.write(f"[smpipe-gen] $ {' '.join(argv)}\n".encode())
    log.flush()
    start = log.tell()
    code = subprocess.run(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env, cwd=cwd).returncode
    if code != 0:
        with open(log.name, "rb") as handle:
            handle.seek(start)
            lines = [line.strip() for line in handle.read().decode(errors="replace").splitlines() if line.strip()]
        last = next((line for line in reversed(lines) if line.startswith("ERROR")), lines[-1] if lines else "")
        raise SmpipeError(f"{failure} (exit {code})" + (f": {last}" if last else ""), where=where, hint=hint)
