"""Safe YAML loading that remembers the line of every key, so errors can name it."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from smpipe_gen.errors import SmpipeError, shorten

KeyPath = tuple[str | int, ...]


@dataclass
class YamlDocument:
    """A parsed YAML file: its data and the line (1-based) of each key path."""

    path: str  # as shown to users: relative to the repository root
    data: Any
    lines: dict[KeyPath, int] = field(default_factory=dict)

    def line_of(self, key_path: KeyPath) -> int | None:
        """The line of the longest prefix of ``key_path`` that has one."""
        for end in range(len(key_path), -1, -1):
            line = self.lines.get(tuple(key_path[:end]))
            if line is not None:
                return line
        return None

    def where(self, key_path: KeyPath) -> str:
        line = self.line_of(key_path)
        dotted = ".".join(shorten(str(part)) for part in key_path)
        location = f"{self.path}:{line}" if line else self.path
        return f"{location}: {dotted}" if dotted else location


def load_yaml(file: Path, shown_as: str) -> YamlDocument:
    """Parse ``file`` with the safe loader (no object tags) and record key lines."""
    try:
        text = Path(file).read_text(encoding="utf-8")
    except OSError as exc:
        raise SmpipeError(f"cannot read config file: {exc.strerror}", where=shown_as,
                          hint="check SMP_MODEL_CONFIGPATH") from None
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        document = YamlDocument(shown_as, None)
        document.data = _convert(node, (), loader, document) if node is not None else None
        return document
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = f":{mark.line + 1}" if mark else ""
        raise SmpipeError(f"invalid YAML: {exc.problem or exc.context}", where=f"{shown_as}{line}",
                          hint="fix the YAML syntax (indentation, quotes, colons)") from None
    except yaml.YAMLError as exc:
        raise SmpipeError(f"invalid YAML: {exc}", where=shown_as, hint="fix the YAML syntax") from None
    finally:
        loader.dispose()


def _convert(node: yaml.Node, path: KeyPath, loader: yaml.SafeLoader, document: YamlDocument) -> Any:
    document.lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        loader.flatten_mapping(node)
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node, deep=True)
            if not isinstance(key, (str, int, float, bool)) or key is None:
                raise SmpipeError("mapping keys must be plain scalars",
                                  where=f"{document.path}:{key_node.start_mark.line + 1}",
                                  hint="quote the key")
            key = str(key)
            if key in result:
                raise SmpipeError(f"duplicate key {key!r}",
                                  where=f"{document.path}:{key_node.start_mark.line + 1}: "
                                        + ".".join(map(str, path + (key,))),
                                  hint="each key may appear once in a mapping; merge the two entries")
            document.lines[path + (key,)] = key_node.start_mark.line + 1
            result[key] = _convert(value_node, path + (key,), loader, document)
        return result
    if isinstance(node, yaml.SequenceNode):
        return [_convert(item, path + (index,), loader, document) for index, item in enumerate(node.value)]
    return loader.construct_object(node, deep=True)
