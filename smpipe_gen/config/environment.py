"""Framework-level variables and the environments they come from.

Two layouts:

* ``env.env`` only (the original framework's): precedence ``env.env`` < process environment <
  ``--env`` on the command line; one render under ``pipeline/``.
* ``environments/<name>.env`` (one file per AWS account, committed): precedence ``env.env``
  (shared values such as SMP_MODEL_CONFIGPATH) < ``environments/<name>.env`` < ``--env``; one
  render per environment under ``pipeline/<name>/``. The process environment supplies nothing:
  CI must check and apply with exactly the values the committed render saw, so a process
  variable that contradicts the environment file is refused rather than silently used.

Either way every value is validated (config/values.py) before anything renders.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Iterator, Mapping

from smpipe_gen.config import values
from smpipe_gen.config.text import read_text
from smpipe_gen.errors import SmpipeError, did_you_mean, shorten
from smpipe_gen.paths import inside

ENV_FILE = "env.env"
DEFAULT_FRAMEWORK_CONF = "framework/conf/conf.yaml"  # unless SMP_FRAMEWORK_CONFPATH names another
ENVIRONMENTS_DIR = "environments"
ENVIRONMENT_VARIABLE = "SMP_ENVIRONMENT"  # the environment's name, a token like the others
REQUIRED = ("SMP_ACCOUNTID", "SMP_REGION", "SMP_S3BUCKETNAME", "SMP_ROLE", "SMP_MODEL_CONFIGPATH")
OPTIONAL = ("SMP_SUBNETS", "SMP_SECURITYGROUPS", "SMP_KMSKEY", "SMP_FRAMEWORK_CONFPATH")
KNOWN = REQUIRED + OPTIONAL
_LINE = re.compile(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=(.*)$", re.DOTALL)
# An environment's name is the directory its render is written to (pipeline/<name>/) and the value
# of a token (SMP_ENVIRONMENT): a plain name, like a model's.
ENVIRONMENT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,62}")
ENVIRONMENT_NAME_RULE = "1-63 letters, digits, '-' and '_', starting with a letter or digit"


def _parse_env_file(root: Path, shown_as: str) -> dict[str, tuple[str, int]]:
    """``KEY -> (value, line number)`` of ``export KEY="value"`` lines (``export`` optional;
    comments and blanks skipped). The file must stay inside the repository (symlinks resolved)
    and obey the rules of config text (config/text.py)."""
    path = inside(root, shown_as, where=shown_as, what="environment file",
                  hint="commit the file itself, not a link leading out of the repository")
    found: dict[str, tuple[str, int]] = {}
    text = read_text(path, shown_as, hint=f"make {shown_as} a readable file")
    for number, line in enumerate(text.split("\n"), start=1):  # a shell ends lines at LF only
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        match = _LINE.match(line)
        if not match:
            raise SmpipeError("not a KEY=value line", where=f"{shown_as}:{number}",
                              hint='write lines as export SMP_REGION="us-east-1"')
        key, raw = match.groups()
        try:
            words = shell_words(raw)
        except ValueError as exc:
            raise SmpipeError(f"cannot parse the value of {key}: {exc}", where=f"{shown_as}:{number}",
                              hint="close the quotes") from None
        found[key] = (" ".join(words), number)
    return found


# One step of reading shell words: blanks, a comment, a single- or double-quoted part, an escaped
# character or a run of plain characters. Each match consumes its text once, so a line is read in
# linear time (shlex builds a word by repeated concatenation: a 10 MB value took 14 minutes).
_WORD_PART = re.compile(r"""(?P<blank>[ \t\r\n]+)|(?P<comment>\#[^\n]*)|'(?P<single>[^']*)'"""
                        r"""|"(?P<double>[^"\\]*(?:\\.[^"\\]*)*)"|\\(?P<escaped>.)|(?P<plain>[^ \t\r\n#'"\\]+)""",
                        re.DOTALL)
_DOUBLE_QUOTED_ESCAPE = re.compile(r'\\([\\"])')
_ENDS_IN_ESCAPE = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*\\|\\', re.DOTALL)  # what is left: shlex's other error


def shell_words(text: str) -> list[str]:
    """The words of ``text`` as ``shlex.split(text, comments=True)`` reads them (POSIX quoting:
    nothing is escaped in single quotes, only backslash and double quote in double quotes, a
    ``#`` outside quotes starts a comment), in linear time; ValueError for an unclosed quote or
    a trailing backslash, with shlex's words."""
    words: list[str] = []
    word: list[str] | None = None  # None between words; [] for a word of empty quotes
    position = 0
    while position < len(text):
        part = _WORD_PART.match(text, position)
        if part is None:
            raise ValueError("No escaped character" if _ENDS_IN_ESCAPE.fullmatch(text, position)
                             else "No closing quotation")
        position = part.end()
        kind = part.lastgroup
        if kind in ("blank", "comment"):
            if word is not None:
                words.append("".join(word))
            word = None
            continue
        value = part.group(kind)
        word = (word or []) + [_DOUBLE_QUOTED_ESCAPE.sub(r"\1", value) if kind == "double" else value]
    if word is not None:
        words.append("".join(word))
    return words


def environment_names(root: Path) -> list[str]:
    """The environments a repository defines: ``environments/<name>.env``, sorted. A name is the
    directory its render is written to (``pipeline/<name>/``), so it must be a plain name:
    ``environments/...env`` would render into the repository root, over files of those names."""
    directory = Path(root) / ENVIRONMENTS_DIR
    if not directory.is_dir():
        return []
    names = sorted(path.name[:-len(".env")] for path in directory.iterdir()
                   if path.name.endswith(".env") and (path.is_file() or path.is_symlink()))
    for name in names:
        if not ENVIRONMENT_NAME.fullmatch(name):
            raise SmpipeError(f"environment name {shorten(repr(name))} is not allowed",
                              where=f"{ENVIRONMENTS_DIR}/{shorten(name)}.env",
                              hint=f"rename the file: an environment name is {ENVIRONMENT_NAME_RULE}")
    return names


def check_environment(root: Path, name: str | None) -> str | None:
    """``name`` when the repository defines it; the only environment when ``name`` is None and
    there is exactly one; None for a repository without environments. Refuses anything else."""
    names = environment_names(root)
    if not names:
        if name:
            raise SmpipeError(f"no environment {name!r}: this repository has no {ENVIRONMENTS_DIR}/ directory",
                              where=f"--environment {name}",
                              hint=f"drop -E, or define {ENVIRONMENTS_DIR}/{name}.env")
        return None
    if name is None:
        if len(names) == 1:
            return names[0]
        raise SmpipeError(f"this repository has several environments ({', '.join(names)}): name one",
                          where=ENVIRONMENTS_DIR, hint=f"pass --environment/-E, e.g. -E {names[0]}")
    if name not in names:
        raise SmpipeError(f"unknown environment {name!r}", where=f"--environment {name}",
                          hint=did_you_mean(name, names, f"one of: {', '.join(names)}"))
    return name


def framework_variables(root: Path, environ: Mapping[str, str], overrides: Mapping[str, str],
                        environment: str | None = None, validate: bool = True) -> dict[str, str]:
    """The SMP_* variables in force, validated (see the module docstring for the precedence).

    ``validate=False`` is for the fast check, which only compares them with values a render
    already accepted (validating regions loads botocore's endpoint data)."""
    environment = check_environment(root, environment)
    merged: dict[str, str] = {}
    origins: dict[str, str] = {}
    files = [ENV_FILE] + ([f"{ENVIRONMENTS_DIR}/{environment}.env"] if environment else [])
    for shown in files:
        if (root / shown).is_file() or (root / shown).is_symlink():
            for key, (value, line) in _parse_env_file(root, shown).items():
                merged[key], origins[key] = value, f"{shown}:{line}"
    process = {key: value for key, value in environ.items() if key.startswith("SMP_")}
    if environment:
        merged[ENVIRONMENT_VARIABLE], origins[ENVIRONMENT_VARIABLE] = environment, files[-1]
        _refuse_contradictions(merged, origins, process, files[-1])
    else:
        for key, value in process.items():
            if key in KNOWN or key in merged:  # never arbitrary process variables: tokens are declared
                merged[key], origins[key] = value, "environment"
    for key, value in overrides.items():
        merged[key], origins[key] = value, "--env"
    merged = {key: value for key, value in merged.items() if key.startswith("SMP_")}
    missing = [name for name in REQUIRED if not merged.get(name)]
    if missing:
        where = files[-1] if (root / files[-1]).is_file() else "environment"
        raise SmpipeError(f"required variable(s) not set: {', '.join(missing)}", where=where,
                          hint=f'add export {missing[0]}="..." to {files[-1]}'
                               + ("" if environment else " or set it in the environment"))
    if validate:
        values.validate(merged, origins)
    return merged


def _refuse_contradictions(merged: Mapping[str, str], origins: Mapping[str, str],
                           process: Mapping[str, str], env_file: str) -> None:
    """A process SMP_* variable that disagrees with the committed files would make CI deploy
    values no reviewer saw: stop instead of choosing one silently."""
    for key in sorted(process):
        if key in merged and process[key] != merged[key]:
            raise SmpipeError(f"{key} is set in the process environment to {process[key]!r}, but {origins[key]} "
                              f"says {merged[key]!r}", where=env_file,
                              hint=f"the committed file is what renders: unset {key} (for example in the "
                                   "CodeBuild project), or change the file, render and commit")


_TOKEN = re.compile(r"SMP_[A-Za-z0-9_]+")


def substitute(value: object, variables: Mapping[str, str]) -> object:
    """Replace SMP_* tokens inside every string of a loaded YAML tree.

    A token is any name in ``variables`` (the framework's own names and whatever env.env or the
    environment file defines, e.g. SMP_TRAIN_INSTANCE), never another environment variable; a
    string that is exactly an unset optional token becomes None (an unset SMP_SUBNETS means no VPC).
    """
    def replace(match: re.Match) -> str:
        return variables.get(match.group(0), match.group(0))

    if isinstance(value, dict):  # keys too: local_data maps s3://SMP_S3BUCKETNAME/... URIs
        return {_TOKEN.sub(replace, key): substitute(item, variables) for key, item in value.items()}
    if isinstance(value, list):
        return [substitute(item, variables) for item in value]
    if isinstance(value, str) and "SMP_" in value:
        if value.strip() in OPTIONAL and not variables.get(value.strip()):
            return None
        return _TOKEN.sub(replace, value)
    return value


def undefined_tokens(value: object, variables: Mapping[str, str],
                     path: tuple = ()) -> Iterator[tuple[tuple, str]]:
    """(key path, token) of every SMP_* token in a loaded YAML tree (keys included) that no file
    defines. Left in place it would render as literal text: a token set in dev.env but forgotten
    in prod.env must stop prod's render, not become prod's instance type or hyperparameter.
    An unset optional framework variable (SMP_SUBNETS, ...) is not undefined: it means "not set"."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield from undefined_tokens(key, variables, path + (key,))
            yield from undefined_tokens(item, variables, path + (key,))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from undefined_tokens(item, variables, path + (index,))
    elif isinstance(value, str) and "SMP_" in value:
        for token in _TOKEN.findall(value):
            if token not in variables and token not in OPTIONAL:
                yield path, token


def split_list(value: str | None) -> list[str]:
    return [item.strip() for item in (value or "").split(",") if item.strip()]
