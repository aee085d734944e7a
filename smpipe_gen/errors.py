"""The one error type users see: a single line naming where the problem is, plus a hint."""

from __future__ import annotations


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
        text = f"{self.where}: {self.message}" if self.where else self.message
        if self.hint:
            text += f" (hint: {self.hint})"
        return " ".join(text.split("\n"))
