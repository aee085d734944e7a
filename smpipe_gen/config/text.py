"""The rules every config text file obeys (model YAML, ``env.env``, ``environments/*.env``):
at most MAX_FILE_BYTES, UTF-8, and only the characters YAML allows in a document.

A config arrives in a pull request: a 10 MB file, a Latin-1 byte or an escape sequence that
would rewrite the terminal line ``plan`` prints it on is refused here, with its line and column.
"""

from __future__ import annotations

import re
from pathlib import Path

from smpipe_gen.errors import SmpipeError

MAX_FILE_BYTES = 1024 * 1024  # the examples' files are under 10 KB
# The characters YAML's reader refuses in a document (yaml.reader.Reader.NON_PRINTABLE): C0 and
# C1 controls but tab, line feed, carriage return and NEL, and the surrogates and non-characters.
NON_PRINTABLE = re.compile("[^\t\n\r\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_PLAIN_TEXT_HINT = "remove control characters; config files are plain text"


def read_text(file: Path, shown_as: str, hint: str) -> str:
    """``file``'s text: at most MAX_FILE_BYTES of UTF-8 holding only printable characters.
    ``hint`` says how to fix an unreadable file (which variable or path named it)."""
    try:
        size = file.stat().st_size
        if size > MAX_FILE_BYTES:
            raise SmpipeError(f"config file is too large ({size:,} bytes; the limit is {MAX_FILE_BYTES:,})",
                              where=shown_as, hint="a config file is a few kilobytes; split or trim it")
        data = file.read_bytes()
    except OSError as exc:
        raise SmpipeError(f"cannot read config file: {exc.strerror}", where=shown_as, hint=hint) from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        where = f"{shown_as}:{position(data, exc.start)}"
        raise SmpipeError(f"not UTF-8: byte 0x{data[exc.start]:02x} cannot be decoded", where=where,
                          hint="save the file as UTF-8") from None
    bad = NON_PRINTABLE.search(text)
    if bad:
        raise SmpipeError(_character_problem(bad.group()), where=f"{shown_as}:{position(text, bad.start())}",
                          hint=_PLAIN_TEXT_HINT)
    return text


def _character_problem(char: str) -> str:
    """What is wrong with a character NON_PRINTABLE matches."""
    return "NUL character in the file" if char == "\x00" else f"invalid character {shown_character(char)}"


def shown_character(char: str) -> str:
    """A character as an error line shows it: escaped, with its code point."""
    return f"{char!r} (#x{ord(char):04x})"


def position(content: str | bytes, index: int) -> str:
    """``line:column`` (both 1-based) of ``index`` in ``content``."""
    newline = b"\n" if isinstance(content, bytes) else "\n"
    line = content.count(newline, 0, index) + 1
    column = index - (content.rfind(newline, 0, index) + 1) + 1
    return f"{line}:{column}"
