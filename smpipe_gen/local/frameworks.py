"""Why a job found no framework module, or no file of its image: a SageMaker job runs on its
image's packages and files, a local job on this machine's.

A TensorFlow estimator's script imports ``tensorflow`` because its image ships it; the script's
requirements.txt rarely lists it. Locally the job then fails with ``No module named
'tensorflow'``. The failure names the image, the framework version its tag says, and the fix.
A script in a team's own image may open a file the image holds (``/app/step.py``); the failure
says the path comes from the image. Read from the step's log and the image URI only: nothing is
imported or installed here.
"""

from __future__ import annotations

import os
import re
from typing import Any

from smpipe_gen.json_values import dig
from smpipe_gen.local.algorithms import ECR_IMAGE
from smpipe_gen.local.missing import NO_MODULE

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
_MISSING = re.compile(NO_MODULE)
_MISSING_FILE = re.compile(r"(?:No such file or directory|can't open file):? '(?P<path>/[^']+)'")
_VERSION = re.compile(r"^(?P<version>\d+(?:\.\d+)*)(?=-|$)")


def image_of(arguments: Any) -> str:
    """The image a processing or training job (its resolved arguments) runs."""
    image = dig(arguments, "AppSpecification", "ImageUri") or dig(arguments, "AlgorithmSpecification", "TrainingImage")
    return image if isinstance(image, str) else ""


def explain(log: str, image: str) -> str:
    """One sentence when the job failed importing the framework its AWS image ships, or opening
    a file outside /opt/ml that this machine lacks ("" otherwise)."""
    found = ECR_IMAGE.match(image.strip())
    if found is None:
        return ""
    return _framework(log, found) or _image_file(log, found)


def _image_file(log: str, found: re.Match) -> str:
    paths = [m["path"] for m in _MISSING_FILE.finditer(log)]
    if not paths or paths[-1].startswith("/opt/ml/") or os.path.exists(paths[-1]):
        return ""
    return (f"{paths[-1]} is not on this machine: if it is a file of the image {found['repository']}:"
            f"{found['tag'] or 'latest'}, a local job does not have it (it sees this machine's files); ship the "
            "file with the step's code, or pass --stand-in for the step")


def _framework(log: str, found: re.Match) -> str:
    missing = [match["module"].split(".")[0] for match in _MISSING.finditer(log)]
    if not missing or found["repository"] not in FRAMEWORK_OF:
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
