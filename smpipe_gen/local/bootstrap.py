"""The SDK's processing bootstrap (runproc.sh, an inline code object: ``cd`` into the code input,
``tar -xzf`` the bundle, ``pip install -r requirements.txt``, run the entry point) and the parts of
it the runner has already done before the job starts, which the script the job runs leaves out:
its code directory is read-only, and its pip would reinstall into, or uninstall from (``pip
uninstall --yes typing``), the interpreter running smpipe-gen."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_UNPACK = re.compile(r"(?m)^cd (\S+)\ntar -xzf (\S+)\n")
_REQUIREMENTS = re.compile(r"(?ms)^if \[\[ -f 'requirements\.txt' \]\]; then\n.*?^fi\n")
_CD = re.compile(r"(?m)^cd (\S+)$")
REQUIREMENTS = "requirements.txt"


@dataclass
class Prepared:
    """What the runner did for a job's bootstrap, by container directory."""

    unpacked: dict[str, str] = field(default_factory=dict)  # directory -> the bundle already unpacked there
    installed: set[str] = field(default_factory=set)  # directories whose requirements.txt is satisfied


def requirements_dir(script: str) -> str | None:
    """The directory whose requirements.txt the bootstrap installs (where it last ``cd``'d before
    its requirements block), or None when it installs none."""
    block = _REQUIREMENTS.search(script)
    if block is None:
        return None
    directories = _CD.findall(script, 0, block.start())
    return directories[-1].rstrip("/") if directories else None


def rewrite(script: str, done: Prepared) -> str:
    """The bootstrap without what ``done`` says the runner did, each left-out part replaced by a
    comment saying so."""
    def unpack(match: re.Match) -> str:
        directory, bundle = match.group(1).rstrip("/"), match.group(2)
        if done.unpacked.get(directory) != bundle:
            return match.group(0)
        return f"cd {match.group(1)}\n# {bundle} is already unpacked here (read-only, by smpipe-gen run --local)\n"

    installs_in = requirements_dir(script)

    def install(match: re.Match) -> str:
        if installs_in not in done.installed:
            return match.group(0)
        return f"# {REQUIREMENTS} is satisfied before the job starts (by smpipe-gen run --local; see the step log)\n"

    for pattern, replace in ((_UNPACK, unpack), (_REQUIREMENTS, install)):
        script = pattern.sub(replace, script)
    return script
