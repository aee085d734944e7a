"""Loading, merging and validating the YAML config users write."""

from smpipe_gen.config.loader import load_config

__all__ = ["load_config"]
