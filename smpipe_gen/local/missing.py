"""Why a job found no file where its code should be: code scoped to the step.

Each step ships only what its entry point imports (render/bundles.py). When a job fails on a
path under its code directory that the repository holds, the failure says so, with the fix,
instead of leaving ``can't open file '/opt/ml/processing/input/code/helper.py'`` to be puzzled
over. Read from the step's log: the paths and module names the interpreter complained about.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Iterable, Iterator

from smpipe_gen.manifest import CodeArtifact
from smpipe_gen.render.unshipped import HINT

NO_MODULE = r"No module named '(?P<module>[\w.]+)'"  # the interpreter's words for a failed import
_MISSING = re.compile(r"""(?P<path>/opt/ml/[^'"\s:]+)|""" + NO_MODULE)
_FAILURE = re.compile(r"can't open file|No such file or directory|No module named|FileNotFoundError|not found")


def _candidates(log: str) -> Iterator[list[str]]:
    """Per complaint in the log, the relative paths it may mean, longest first."""
    for line in log.splitlines():
        if not _FAILURE.search(line):
            continue
        for match in _MISSING.finditer(line):
            if match["module"]:
                stem = match["module"].replace(".", "/")
                yield [f"{stem}.py", f"{stem}/__init__.py"]
            else:
                parts = match["path"].split("/opt/ml/", 1)[1].split("/")
                yield ["/".join(parts[start:]) for start in range(len(parts))]


def explain(log: str, arguments: Any, artifacts: Iterable[CodeArtifact | None], root: Path) -> str:
    """One sentence naming a repository file the job looked for that its bundle leaves out
    ("" when the log names none). ``artifacts``: what the code objects the step's arguments name
    hold (from the manifest)."""
    bundles = [a for a in artifacts if a is not None and a.kind == "sourcedir" and a.source_directory]
    for names in _candidates(log):
        for name in names:
            for artifact in bundles:
                shipped = {f.arcname for f in artifact.files}
                repository = name if artifact.source_directory == "." else f"{artifact.source_directory}/{name}"
                if name not in shipped and (Path(root) / repository).is_file():
                    return (f"{repository} is in the repository but not in this step's code bundle "
                            f"(each step ships only what its entry point imports): {HINT}")
    return ""


def code_uris(arguments: Any) -> list[str]:
    """Every S3 URI a step's resolved arguments name (its code objects among them)."""
    return sorted(set(re.findall(r"s3://[^\"\\\s]+", json.dumps(arguments, default=str))))
