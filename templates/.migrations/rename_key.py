"""Rename one mapping key in a YAML file in place, keeping comments and layout (a copier migration).

Usage: rename_key.py FILE DOTTED.PATH.OLD_KEY NEW_KEY. Used for conf.yaml, which `copier update`
never rewrites (skip_if_exists), so a key the template renames must be renamed in the user's copy.
A missing file or key is left alone: the user may have removed or renamed it already.
"""

import sys
from pathlib import Path

import yaml


def rename(text: str, path: list[str], new: str) -> str | None:
    """Text with the key at `path` renamed, or None when the path is not in the document."""
    node = yaml.compose(text, Loader=yaml.SafeLoader)
    key = None
    for depth, name in enumerate(path):
        if not isinstance(node, yaml.MappingNode):
            return None
        keys = {k.value: (k, v) for k, v in node.value if isinstance(k, yaml.ScalarNode)}
        if name not in keys:
            return None
        key, child = keys[name]
        if depth == len(path) - 1 and new in keys:
            raise SystemExit(f"rename_key: {'.'.join(path[:-1] + [new])} already exists")
        node = child
    return text[:key.start_mark.index] + new + text[key.end_mark.index:]


def main() -> None:
    if len(sys.argv) != 4:
        raise SystemExit("usage: rename_key.py FILE DOTTED.PATH.OLD_KEY NEW_KEY")
    file, dotted, new = Path(sys.argv[1]), sys.argv[2], sys.argv[3]
    if not file.is_file():
        print(f"rename_key: {file} not found, nothing to rename")
        return
    renamed = rename(file.read_text(), dotted.split("."), new)
    if renamed is None:
        print(f"rename_key: {dotted} not in {file}, nothing to rename")
        return
    file.write_text(renamed)
    print(f"rename_key: {file}: {dotted} -> {new}")


if __name__ == "__main__":
    main()
