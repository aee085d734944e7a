"""Safe YAML loading that remembers the line of every key, so errors can name it."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from smpipe_gen.config.text import read_text
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


# Limits for untrusted files, generous for real configs (the examples are 6 levels deep and a few
# hundred nodes): beyond the text rules every config file obeys (config/text.py: 1 MiB of
# printable UTF-8), nested at most 64 levels, and at most 100,000 nodes once aliases are
# expanded, so an alias bomb fails at the limit instead of expanding in memory, even under a
# key nothing reads.
MAX_DEPTH = 64
MAX_NODES = 100_000


def load_yaml(file: Path, shown_as: str) -> YamlDocument:
    """Parse ``file`` with the safe loader (no object tags), within the limits above, and
    record key lines."""
    text = read_text(Path(file), shown_as, hint="check SMP_MODEL_CONFIGPATH")
    _check_shape(text, shown_as)
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        document = YamlDocument(shown_as, None)
        budget = _NodeBudget(shown_as)
        document.data = _convert(node, (), loader, document, budget) if node is not None else None
        return document
    except yaml.MarkedYAMLError as exc:
        raise _yaml_error(shown_as, exc.problem or exc.context, exc.problem_mark or exc.context_mark) from None
    except yaml.YAMLError as exc:
        raise SmpipeError(f"invalid YAML: {exc}", where=shown_as, hint="fix the YAML syntax") from None
    finally:
        loader.dispose()


def _check_shape(text: str, shown_as: str) -> None:
    """Walk the parser's events (no recursion, no alias expansion) to bound nesting depth and
    node count before the recursive composer sees the file (read_text has refused the
    characters YAML's reader would)."""
    depth = nodes = 0
    try:
        for event in yaml.parse(text, Loader=yaml.SafeLoader):
            if isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
                depth += 1
                if depth > MAX_DEPTH:
                    raise _limit_error(shown_as, f"nesting deeper than {MAX_DEPTH} levels", event.start_mark)
            elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
                depth -= 1
            if isinstance(event, yaml.NodeEvent):
                nodes += 1
                if nodes > MAX_NODES:
                    raise _limit_error(shown_as, f"more than {MAX_NODES:,} nodes", event.start_mark)
    except yaml.MarkedYAMLError as exc:
        raise _yaml_error(shown_as, exc.problem or exc.context, exc.problem_mark or exc.context_mark) from None


def _limit_error(shown_as: str, what: str, mark: yaml.Mark) -> SmpipeError:
    return SmpipeError(f"config file has {what}", where=f"{shown_as}:{mark.line + 1}:{mark.column + 1}",
                       hint="real configs are far smaller; remove generated or repeated content")


def _yaml_error(shown_as: str, problem: str | None, mark: yaml.Mark | None) -> SmpipeError:
    line = f":{mark.line + 1}:{mark.column + 1}" if mark else ""
    return SmpipeError(f"invalid YAML: {problem}", where=f"{shown_as}{line}",
                       hint="fix the YAML syntax (indentation, quotes, colons)")


@dataclass
class _NodeBudget:
    """Nodes left to convert: aliases are expanded here, so a bomb hits the limit early."""

    shown_as: str
    left: int = MAX_NODES

    def spend(self, node: yaml.Node) -> None:
        self.left -= 1
        if self.left < 0:
            raise _limit_error(self.shown_as, f"more than {MAX_NODES:,} nodes once aliases are expanded",
                               node.start_mark)


def _convert(node: yaml.Node, path: KeyPath, loader: yaml.SafeLoader, document: YamlDocument,
             budget: _NodeBudget) -> Any:
    budget.spend(node)
    document.lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        loader.flatten_mapping(node)
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key = _construct(key_node, loader, document)
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
            result[key] = _convert(value_node, path + (key,), loader, document, budget)
        return result
    if isinstance(node, yaml.SequenceNode):
        return [_convert(item, path + (index,), loader, document, budget) for index, item in enumerate(node.value)]
    return _construct(node, loader, document)


def _construct(node: yaml.Node, loader: yaml.SafeLoader, document: YamlDocument) -> Any:
    """A scalar's value; Python refuses to read integers over 4,300 digits, say so in one line."""
    try:
        return loader.construct_object(node, deep=True)
    except ValueError as exc:
        mark = node.start_mark
        raise SmpipeError(f"value cannot be read ({shorten(str(exc))})",
                          where=f"{document.path}:{mark.line + 1}:{mark.column + 1}",
                          hint="numbers in a config are small; quote the value if it is text") from None

