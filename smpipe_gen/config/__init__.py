"""Loading, merging and validating the YAML config users write.

``load_config`` is imported on first use: importing a sibling module (environment, values) must
not load the pydantic config models, which commands that only read rendered artifacts never use.
"""

from typing import Any

__all__ = ["load_config"]


def __getattr__(name: str) -> Any:
    if name == "load_config":
        from smpipe_gen.config.loader import load_config

        return load_config
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
