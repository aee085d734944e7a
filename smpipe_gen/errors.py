"""The errors users see: one line each, naming where the problem is, with a hint.

Every error is a ``SmpipeError`` (the CLI prints each as ``error: <one line>``); a subclass
exists only where a caller must tell errors apart:

    SmpipeError
    ├── NotFound        the thing asked for does not exist (a pipeline AWS does not know)
    └── ErrorList       several problems found in one pass, one line each
        ├── ConfigErrors      the config's
        └── StepsRefused      steps a local run cannot run, refused before it starts
"""

from __future__ import annotations

from collections.abc import Iterable

SHOWN_VALUE_LIMIT = 80


def shorten(text: str, limit: int = SHOWN_VALUE_LIMIT) -> str:
    """``text`` cut to ``limit`` characters with an ellipsis: a 100k-character value or key in
    a config must not be echoed whole into an error line."""
    return text if len(text) <= limit else text[:limit - 1] + "…"


def closest(name: str, candidates: Iterable[str], cutoff: float = 0.6) -> str | None:
    """The candidate a misspelt ``name`` most likely meant, or None when none is close."""
    import difflib  # only on the way to an error: not on every command's start

    close = difflib.get_close_matches(name, list(candidates), n=1, cutoff=cutoff)
    return close[0] if close else None


def did_you_mean(name: str, candidates: Iterable[str], otherwise: str) -> str:
    """The hint for an unknown ``name``: the closest candidate, quoted, or ``otherwise``."""
    close = closest(name, candidates)
    return f"did you mean {close!r}?" if close else otherwise


PART_LIMIT = 300


def _bounded(text: str) -> str:
    """The net under every message: a part of an error line (where, message, hint) longer than
    PART_LIMIT keeps its head and tail around an ellipsis, whatever value a check put in it."""
    return text if len(text) <= PART_LIMIT else text[:PART_LIMIT - 61] + "…" + text[-60:]


class SmpipeError(Exception):
    """A problem in the user's input or environment, reported without a traceback.

    ``where`` names the place (``conf/conf.yaml:12: conf.models.abalone.train``, a step name,
    an S3 URI); ``hint`` says what to do about it.
    """

    exit_code = 1

    def __init__(self, message: str, *, where: str | None = None, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.where = where
        self.hint = hint

    def one_line(self) -> str:
        message = _bounded(self.message)
        text = f"{_bounded(self.where)}: {message}" if self.where else message
        if self.hint:
            text += f" (hint: {_bounded(self.hint)})"
        return " ".join(text.splitlines())  # every line break Python knows, U+2028 included

    def lines(self) -> list[str]:
        return [self.one_line()]

    def __str__(self) -> str:
        return "\n".join(self.lines())


class NotFound(SmpipeError):
    """What was asked for does not exist: callers treat it as an answer, not a failure."""


class ErrorList(SmpipeError):
    """Several problems found in one pass, reported together, one line each."""

    what = "error(s)"

    def __init__(self, errors: list[SmpipeError]):
        super().__init__(f"{len(errors)} {self.what}")
        self.errors = errors

    def lines(self) -> list[str]:
        return [error.one_line() for error in self.errors]


class ConfigErrors(ErrorList):
    """Several config problems found in one pass."""

    what = "config error(s)"


class StepsRefused(ErrorList):
    """Steps a local run cannot run, each named before anything runs."""

    what = "step(s) cannot run locally"
