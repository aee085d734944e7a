"""The SageMaker XGBoost algorithm's image versions and what differs between them, as the
container's sources (github.com/aws/sagemaker-xgboost-container, one branch per image version)
show it. Training and inference both ask ``xgboost_image(tag)``; nothing here imports xgboost."""

from __future__ import annotations

import functools
import importlib.metadata
import re
from dataclasses import dataclass
from types import ModuleType

from smpipe_gen.errors import SmpipeError

# image version -> the xgboost library its container pins (docker/<version>/base/Dockerfile.cpu)
LIBRARY_OF = {
    (0, 90, 1): "0.90", (0, 90, 2): "0.90", (1, 0, 1): "1.0.0", (1, 2, 1): "1.2.0", (1, 2, 2): "1.2.0",
    (1, 3, 1): "1.3.3", (1, 5, 1): "1.5.2", (1, 7, 1): "1.7.4", (3, 0, 5): "3.0.5",
}
LATEST = max(LIBRARY_OF)
TAG = re.compile(r"^(?P<major>\d+)\.(?P<minor>\d+)-(?P<build>\d+)(?:-arm64)?(?:-cpu-py3)?$")


@dataclass(frozen=True)
class XGBoostImage:
    tag: str
    version: tuple[int, int, int]

    @property
    def name(self) -> str:
        major, minor, build = self.version
        return f"{major}.{minor}-{build}"

    @property
    def library(self) -> str:
        return LIBRARY_OF[self.version]

    @property
    def pickles_model(self) -> bool:
        """Up to 1.2-2 ``xgboost-model`` is ``pickle.dump(booster)``; from 1.3-1 ``save_model``."""
        return self.version < (1, 3, 1)

    @property
    def pickle_protocol(self) -> int:
        return 4 if self.version >= (1, 2, 1) else 3  # 1.2-x pass protocol=4; before, Python 3.6/3.7's default

    @property
    def stops_early_by_callback(self) -> bool:
        """From 1.3-1 early stopping watches only ``validation`` and one named metric, and keeps
        the best round's model; before, ``xgb.train`` stops on the last metric of the last data
        set and keeps every round (serving then stops at the best one)."""
        return self.version >= (1, 3, 1)

    @property
    def metric_format(self) -> str:
        """How a metric value is printed: xgboost 0.90's ``%g``, then ``.5f``."""
        return "g" if self.version < (1, 0, 1) else ".5f"

    @property
    def custom_metric_input(self) -> str:
        """What the container's own metrics (accuracy, f1, mse, ...) are computed from: xgboost
        0.90/1.0 pass predictions, 1.2 to 1.7 raw margins (feval), 3.0's ``custom_metric``
        predictions again."""
        return "margin" if (1, 2, 1) <= self.version < (3, 0, 5) else "prediction"

    @property
    def rounds_class_labels(self) -> bool:
        """0.90/1.0 turn a prediction into a class with ``round``; later versions compare the
        margin with 0 (``margin_to_class_label``)."""
        return self.version < (1, 2, 1)

    @property
    def shifts_libsvm_indices(self) -> bool:
        """3.0-5's inference shifts 1-based libsvm indices to 0-based; earlier versions do not."""
        return self.version >= (3, 0, 5)

    @property
    def parses_accept(self) -> bool:
        """From 1.2-2 a response has the request's Accept type (checked); before, always text/csv."""
        return self.version >= (1, 2, 2)

    @property
    def reads_validation_weights(self) -> bool:
        """Before 1.2-2 the validation channel is read without ``csv_weights``."""
        return self.version >= (1, 2, 2)

    @property
    def loads_every_model_file(self) -> bool:
        """From 1.2-2 inference loads every model file and averages them (the k-fold ensemble)."""
        return self.version >= (1, 2, 2)


def xgboost_image(tag: str | None) -> XGBoostImage:
    """The image version a ``sagemaker-xgboost`` tag names (``1.0-1-cpu-py3``, ``1.7-1``, ...);
    refuses tags this runner has no faithful version of."""
    match = TAG.match(tag or "")
    version = (int(match["major"]), int(match["minor"]), int(match["build"])) if match else None
    if version in LIBRARY_OF:
        return XGBoostImage(tag or "", version)
    known = ", ".join(f"{a}.{b}-{c}" for a, b, c in LIBRARY_OF)
    if tag in ("1", "latest"):
        raise SmpipeError(f"XGBoost image tag {tag!r} is the legacy XGBoost 0.72 algorithm, a closed implementation "
                          "that cannot run locally", hint=f"use one of the open-source image versions: {known}")
    raise SmpipeError(f"built-in XGBoost image tag {tag!r} is not one this runner knows", hint=f"known: {known}")


def library() -> ModuleType:
    """The host's xgboost, imported on first use: the runner starts without it."""
    try:
        import xgboost
    except ImportError:
        raise SmpipeError("the built-in XGBoost algorithm runs locally on the xgboost library, which is not "
                          "installed", hint="pip install 'smpipe-gen[examples]' (it carries xgboost-cpu)") from None
    return xgboost


@functools.cache
def library_version() -> str:
    """The host xgboost's version without importing it (seconds): from whichever distribution
    installs the module (``xgboost``, ``xgboost-cpu``); empty when none does."""
    for distribution in importlib.metadata.packages_distributions().get("xgboost", []):
        return importlib.metadata.version(distribution)
    return ""
