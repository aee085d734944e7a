"""smpipe-gen: SageMaker Pipelines as reviewed, reproducible code."""

__version__ = "0.1.0"
