"""Why a job found no framework module: a SageMaker job runs on its image's packages, a local job
on this machine's.

A TensorFlow estimator's script imports ``tensorflow`` because its image ships it; the script's
requirements.txt rarely lists it. Locally the job then fails with ``No module named
'tensorflow'``. The failure names the image, the framework version its tag says, and the fix.
Read from the step's log and the image URI only: nothing is imported or installed here.
"""

from __future__ import annotations

import re
from typing import Any

from smpipe_gen.json_values import dig
from smpipe_gen.local.algorithms import ECR_IMAGE

# ECR repository of an AWS framework image -> (the module a script imports, its pip package)
FRAMEWORK_OF = {
    "tensorflow-training": ("tensorflow", "tensorflow"), "tensorflow-inference": ("tensorflow", "tensorflow"),
    "pytorch-training": ("torch", "torch"), "pytorch-inference": ("torch", "torch"),
    "mxnet-training": ("mxnet", "mxnet"), "mxnet-inference": ("mxnet", "mxnet"),
    "sagemaker-scikit-learn": ("sklearn", "scikit-learn"), "sagemaker-xgboost": ("xgboost", "xgboost"),
    "huggingface-pytorch-training": ("transformers", "transformers"),
    "huggingface-pytorch-inference": ("transformers", "transformers"),
    "huggingface-tensorflow-training": ("transformers", "transformers"),
}
_MISSING = re.compile(r"No module named '(?P<module>[\w.]+)'")
_VERSION = re.compile(r"^(?P<version>\d+(?:\.\d+)*)(?=-|$)")


def image_of(arguments: Any) -> str:
    """The image a processing or training job (its resolved arguments) runs."""
    image = dig(arguments, "AppSpecification", "ImageUri") or dig(arguments, "AlgorithmSpecification", "TrainingImage")
    return image if isinstance(image, str) else ""


def explain(log: str, image: str) -> str:
    """One sentence when the job failed importing the framework its AWS image ships ("" otherwise)."""
    missing = [match["module"].split(".")[0] for match in _MISSING.finditer(log)]
    found = ECR_IMAGE.match(image.strip())
    if not missing or found is None or found["repository"] not in FRAMEWORK_OF:
        return ""
    module, package = FRAMEWORK_OF[found["repository"]]
    if missing[-1] != module:
        return ""
    tag = found["tag"] or ""
    version = _VERSION.match(tag)
    # a framework image's tag is the framework's version (2.4.1-cpu-py37); the SageMaker images of
    # scikit-learn and XGBoost add a build number (0.23-1). The version is said, not pinned: an
    # old image's version often has no wheel for this machine's Python.
    shipped = f"{package} {version['version']}" if version else package
    return (f"the image {found['repository']}:{tag} ships {shipped}; a local job runs on this machine's packages, "
            f"which lack it: pip install {package}, or list it in the step's requirements.txt")
