"""Where a model repository keeps its config and its rendered 

A repository with ``environments/<name>.env`` files has one render per environment, under
``<out>/<name>/``; a repository with only ``env.env`` has one render under ``<out>/``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from smpipe_gen.config.environment import check_environment, environment_names

# A model repository commits three files side by side (by default under ``pipeline/``): readable
# SDK code, what SageMaker runs, and what the definition needs besides itself (manifest.py).
DEFAULT_OUTPUT_DIR = "pipeline"
PIPELINE_PY = "pipeline.py"
DEFINITION_JSON = "definition.json"
MANIFEST_JSON = "manifest.json"
RENDER_FILES = (PIPELINE_PY, DEFINITION_JSON, MANIFEST_JSON)


@dataclass(frozen=True)
class Project:
    """A model repository: its root, the environment (if it has several) and the directory
    holding that environment's rendered """

    root: Path
    output_dir: Path
    environment: str | None = None

    @classmethod
    def at(cls, root: str | Path = ".", output_dir: str | Path = DEFAULT_OUTPUT_DIR,
           environment: str | None = None) -> "Project":
        """One render: the named environment (required when there are several), or the only one."""
        root = Path(root).resolve()
        out = Path(output_dir)
        out = out if out.is_absolute() else root / out
        name = check_environment(root, environment)
        return cls(root=root, output_dir=out / name if name else out, environment=name)

    @classmethod
    def each(cls, root: str | Path = ".", output_dir: str | Path = DEFAULT_OUTPUT_DIR,
             environment: str | None = None) -> list["Project"]:
        """The named environment, or every environment (render, check and plan cover them all)."""
        names = environment_names(Path(root)) if environment is None else [environment]
        return [cls.at(root, output_dir, name) for name in names] or [cls.at(root, output_dir)]

    @property
    def renders_dir(self) -> Path:
        """The directory holding every environment's render (``output_dir`` without environments)."""
        return self.output_dir.parent if self.environment else self.output_dir

    @property
    def pipeline_py(self) -> Path:
        return self.output_dir / PIPELINE_PY

    @property
    def definition_json(self) -> Path:
        return self.output_dir / DEFINITION_JSON

    @property
    def manifest_json(self) -> Path:
        return self.output_dir / MANIFEST_JSON

    def relative(self, path: Path) -> str:
        """A path as users see it in messages: relative to the repository root when inside it."""
        try:
            return Path(path).resolve().relative_to(self.root).as_posix()
        except ValueError:
            return str(path)


def renders_of_another_layout(root: str | Path = ".", output_dir: str | Path = DEFAULT_OUTPUT_DIR) -> list[Path]:
    """Rendered files the repository's layout no longer writes, which nothing would check or apply:
    the single render under ``<out>/`` once there are environments, and ``<out>/<name>/`` of an
    environment that is gone (or of every environment once there are none). Only a directory
    whose manifest smpipe-gen wrote counts, so no file of the user's is ever taken for a render."""
    root = Path(root).resolve()
    out = Path(output_dir) if Path(output_dir).is_absolute() else root / output_dir
    names = set(environment_names(root))
    children = sorted(child for child in (out.iterdir() if out.is_dir() else ())
                      if child.is_dir() and not child.is_symlink() and child.name not in names)
    return [directory / name for directory in ([out] if names else []) + children if _is_render(directory)
            for name in RENDER_FILES if (directory / name).is_file() and not (directory / name).is_symlink()]


def _is_render(directory: Path) -> bool:
    import json

    try:
        manifest = json.loads((directory / MANIFEST_JSON).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(manifest, dict) and str(manifest.get("generator", "")).startswith("smpipe-gen ")
