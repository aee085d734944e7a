"""SageMaker's built-in algorithms as the local runner meets them: which algorithm an image URI
is (read from the SageMaker SDK's own image tables, as data: the runner never imports the SDK), and
the error an algorithm's container fails a job with.

Only XGBoost has a local version (``xgboost.py``): its container is open source and trains with
the xgboost library itself. Every other built-in algorithm is refused by name.

This module and ``xgboost_images`` import nothing heavy: the inference worker may import them."""

from __future__ import annotations

import functools
import importlib.util
import json
import re
from pathlib import Path
from typing import NamedTuple


class AlgorithmError(Exception):
    """The algorithm's container refused its input (hyperparameters, channels, data, a request):
    the job fails with this one-line message, which is the container's own wording."""


class BuiltinAlgorithm(NamedTuple):
    name: str  # as ``sagemaker.image_uris.retrieve`` names it: "xgboost", "linear-learner", ...
    tag: str | None  # the image tag as the URI has it ("1.0-1-cpu-py3"), None for a digest-only URI


# SageMaker's built-in algorithms (and the two Neo images that serve compiled ones), by the name
# ``image_uris.retrieve`` takes; each has a ``sagemaker/image_uri_config/<name>.json`` in the SDK.
BUILTIN_ALGORITHMS = (
    "blazingtext", "factorization-machines", "forecasting-deepar", "image-classification",
    "image-classification-neo", "ipinsights", "kmeans", "knn", "lda", "linear-learner", "ntm",
    "object-detection", "object2vec", "pca", "randomcutforest", "semantic-segmentation", "seq2seq",
    "xgboost", "xgboost-neo",
)

# AWS images that run a program of their own on the job's data, with no local version, by the name
# ``image_uris.retrieve`` takes: what runs in them
SERVICE_IMAGES = {
    "spark": "Apache Spark (smspark-submit)", "clarify": "SageMaker Clarify's analysis",
    "model-monitor": "Model Monitor's analyzer", "data-wrangler": "a Data Wrangler flow",
}

ECR_IMAGE = re.compile(r"^\d{12}\.dkr\.ecr\.[a-z0-9-]+\.amazonaws\.com(?:\.cn)?/"
                       r"(?P<repository>[^:@]+)(?::(?P<tag>[^:@]+))?(?:@sha256:[0-9a-f]{64})?$")


def algorithm_of(image_uri: str) -> BuiltinAlgorithm | None:
    """The built-in algorithm an ECR image URI names, or None (a framework or custom image).
    Ask only for a job with no entry point script: the XGBoost algorithm's image also runs
    scripts (script mode), and then it is no algorithm job."""
    match = ECR_IMAGE.match(image_uri.strip())
    if match is None:
        return None
    name = image_repositories(BUILTIN_ALGORITHMS).get(match["repository"])
    return BuiltinAlgorithm(name, match["tag"]) if name else None


def service_image_of(image_uri: str) -> str | None:
    """Which of SERVICE_IMAGES an ECR image URI is ("spark", ...), or None."""
    match = ECR_IMAGE.match(image_uri.strip())
    return image_repositories(tuple(SERVICE_IMAGES)).get(match["repository"]) if match else None


@functools.cache
def image_repositories(names: tuple[str, ...]) -> dict[str, str]:
    """ECR repository -> image name, for the images ``names`` (``image_uris.retrieve``'s names),
    from the installed SDK's image tables (found, not imported); empty without the SDK."""
    spec = importlib.util.find_spec("sagemaker")
    if spec is None or not spec.submodule_search_locations:
        return {}
    tables = Path(next(iter(spec.submodule_search_locations))) / "image_uri_config"
    repositories: dict[str, str] = {}
    for name in names:
        try:
            table = json.loads((tables / f"{name}.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        repositories.update(dict.fromkeys(_repositories(table), name))
    return repositories


def _repositories(table: object) -> set[str]:
    """Every ``repository`` value anywhere in one image table (scopes and versions nest it)."""
    if isinstance(table, dict):
        found = {table["repository"]} if isinstance(table.get("repository"), str) else set()
        return found.union(*(_repositories(value) for value in table.values()))
    if isinstance(table, list):
        return set().union(*(_repositories(value) for value in table))
    return set()
