"""smpipe-gen: SageMaker Pipelines as reviewed, reproducible code."""

try:
    from smpipe_gen._version import version as __version__  # written from git by setuptools-scm at install
except ImportError:  # a source tree put on sys.path without installing it
    __version__ = "0.0.0+unknown"
