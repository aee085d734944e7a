"""The changed leaves between two JSON values, each with its category, a named list item
added or removed as a whole spelled as one change."""

from __future__ import annotations

import re
from typing import Any

from smpipe_gen.plan.model import MISSING, Change
from smpipe_gen.plan.rules import categorize
from smpipe_gen.plan.values import flatten, show_leaf

_NAMED_ITEM = re.compile(r"^[^\[]*\[(?!\d+\])[^\]]+\]")  # Arguments.InputDataConfig[train]


def leaf_changes(before: dict[str, Any], after: dict[str, Any]) -> list[Change]:
    """What differs between ``before`` and ``after``, leaf by leaf, sorted by path."""
    old, new = flatten(before), flatten(after)
    changes = []
    for path in sorted(set(old) | set(new)):
        if old.get(path, MISSING) != new.get(path, MISSING):
            b = MISSING if path not in old else show_leaf(path, old[path])
            a = MISSING if path not in new else show_leaf(path, new[path])
            changes.append(Change(categorize(path, b, a), path, b, a))
    return _whole_items(changes, old, new)


def _whole_items(changes: list[Change], old: dict[str, Any], new: dict[str, Any]) -> list[Change]:
    """One change for a named list item (an input, a channel) added or removed as a whole,
    instead of one per leaf: renaming a channel is two lines, not ten."""
    items: dict[str, list[Change]] = {}
    for change in changes:
        match = _NAMED_ITEM.match(change.path)
        items.setdefault(match[0] if match else change.path, []).append(change)
    result = []
    for item, members in items.items():
        added, removed = (not any(path.startswith(item) for path in side) for side in (old, new))
        if len(members) < 2 or not (added or removed):
            result += members
            continue
        spelled = "{" + ", ".join(f"{c.path[len(item):].lstrip('.')}: {c.after if added else c.before}"
                                  for c in members) + "}"
        result.append(Change(members[0].category, item, MISSING if added else spelled, spelled if added else MISSING))
    return result
