"""Where a model repository keeps its config and its rendered artifacts."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from smpipe_gen import artifacts


@dataclass(frozen=True)
class Project:
    """A model repository: its root and the directory holding the rendered artifacts."""

    root: Path
    output_dir: Path

    @classmethod
    def at(cls, root: str | Path = ".", output_dir: str | Path = artifacts.DEFAULT_OUTPUT_DIR) -> "Project":
        root = Path(root).resolve()
        out = Path(output_dir)
        return cls(root=root, output_dir=out if out.is_absolute() else root / out)

    @property
    def pipeline_py(self) -> Path:
        return self.output_dir / artifacts.PIPELINE_PY

    @property
    def definition_json(self) -> Path:
        return self.output_dir / artifacts.DEFINITION_JSON

    @property
    def manifest_json(self) -> Path:
        return self.output_dir / artifacts.MANIFEST_JSON

    def relative(self, path: Path) -> str:
        """A path as users see it in messages: relative to the repository root when inside it."""
        try:
            return Path(path).resolve().relative_to(self.root).as_posix()
        except ValueError:
            return str(path)
