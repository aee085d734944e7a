"""The XGBoost algorithm's inference (its container's ``algorithm_mode/serve.py`` and
``serve_utils.py`` per image version) for batch transform: a request body in text/csv (rows of
features, no label; delimiter sniffed; an empty field is missing) or text/libsvm, one prediction
per line out, as the container answers batch requests (``SAGEMAKER_BATCH``): ``str()`` of each
prediction, so a ``multi:softprob`` row is a Python list, ``[0.1, 0.7, 0.2]``.

The model file is loaded as the container loads it: unpickled if it is a pickle (only an xgboost
Booster may be in it: nothing else in a pickle is run), else ``Booster.load_model``."""

from __future__ import annotations

import csv
import json
import pickle
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from smpipe_gen.errors import SmpipeError
from smpipe_gen.local.algorithms import AlgorithmError
from smpipe_gen.local.algorithms.xgboost_data import CONTENT_TYPES, FORMAT_OF
from smpipe_gen.local.algorithms.xgboost_images import XGBoostImage, library, xgboost_image

SUPPORTED_ACCEPTS = ["application/json", "application/jsonlines", "application/x-recordio-protobuf", "text/csv"]
PICKLED_GLOBALS = {("xgboost.core", "Booster"), ("builtins", "bytearray")}  # all a pickled Booster refers to


class InferenceError(AlgorithmError):
    """A request the container answers with an error status (400, 406, 415, 500): the transform
    job fails with the message."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class XGBoostModel:
    image: XGBoostImage
    boosters: tuple[Any, ...]
    pickled: bool  # the first model file was a pickle: the container then checks feature counts
    objective: str
    default_accept: str


def load_model(model_dir: Path, image_tag: str, environment: Mapping[str, str] | None = None) -> XGBoostModel:
    """The model in ``model_dir`` (model.tar.gz unpacked) as the image's server loads it;
    ``environment``: the model container's Environment (SAGEMAKER_INFERENCE_ENSEMBLE,
    SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT)."""
    image, environment = xgboost_image(image_tag), environment or {}
    if "SAGEMAKER_INFERENCE_OUTPUT" in environment:
        raise SmpipeError("SAGEMAKER_INFERENCE_OUTPUT (selectable inference output) is not served locally",
                          hint="leave it out of the model's environment for a local run")
    files = sorted(p for p in Path(model_dir).iterdir() if p.is_file() and not p.name.startswith("."))
    if not files:
        raise InferenceError(500, f"Unable to load model: there is no model file in {model_dir}")
    ensemble = image.loads_every_model_file and environment.get("SAGEMAKER_INFERENCE_ENSEMBLE", "true") == "true"
    loaded = [_load(path, image) for path in (files if ensemble else files[:1])]
    objective = json.loads(loaded[0][0].save_config())["learner"]["objective"]["name"]
    return XGBoostModel(image, tuple(booster for booster, _ in loaded), loaded[0][1], objective,
                        environment.get("SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT", "text/csv"))


class _BoosterUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in PICKLED_GLOBALS:
            raise pickle.UnpicklingError(f"{module}.{name} is not part of a pickled xgboost Booster")
        return super().find_class(module, name)


def _load(path: Path, image: XGBoostImage) -> tuple[Any, bool]:
    """A Booster from one model file, and whether it was a pickle; a file this machine's xgboost
    cannot read says which xgboost the image has (an old image's pickle may not load here)."""
    xgb = library()
    try:
        with path.open("rb") as handle:
            booster = _BoosterUnpickler(handle).load()
        if isinstance(booster, xgb.Booster):
            return booster, True
        pickle_error: Exception = pickle.UnpicklingError(f"a pickled {type(booster).__name__}, not a Booster")
    except Exception as error:  # any unpickling failure means "try the other format", as in the container
        pickle_error = error
    try:
        booster = xgb.Booster()
        booster.load_model(bytearray(path.read_bytes()))  # from bytes: xgboost tells the format by content
        return booster, False
    except xgb.core.XGBoostError as error:
        raise InferenceError(500, f"Unable to load model: Model at {path} cannot be loaded: pickle: {pickle_error}; "
                                  f"load_model: {str(error).strip().splitlines()[0]} (the {image.name} image serves "
                                  f"with xgboost {image.library}; this machine has {xgb.__version__})") from None


def predict(model: XGBoostModel, body: bytes, content_type: str | None, accept: str | None = None) -> tuple[bytes, str]:
    """One batch-transform request: the response body and its content type."""
    if not body:
        return b"", _response_type(model, accept)
    data_format, dmatrix = _request(model.image, body, content_type)
    predictions = _predictions(model, dmatrix, data_format)
    response_type = _response_type(model, accept)
    return ("\n".join(map(str, predictions.tolist())) + "\n").encode("utf-8"), response_type


def _response_type(model: XGBoostModel, accept: str | None) -> str:
    """Up to 1.2-1 always text/csv; from 1.2-2 the Accept type, checked (a missing or ``*/*``
    Accept is SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT, default text/csv)."""
    if not model.image.parses_accept:
        return "text/csv"
    media = (accept or "").split(";", 1)[0].strip()
    if not media or media == "*/*":
        return model.default_accept
    if media.lower() not in SUPPORTED_ACCEPTS:
        raise InferenceError(406, f"Accept type {media} is not supported. Please use supported accept types: "
                                  f"{SUPPORTED_ACCEPTS}.")
    return media.lower()


def request_format(content_type: str | None) -> str:
    """The container's ``get_content_type`` for a request: csv, libsvm (also when none is given), ..."""
    if content_type is None:
        return "libsvm"
    media, *parameters = [part.strip() for part in content_type.lower().split(";")]
    data_format = FORMAT_OF.get(media)
    if data_format is None:
        raise InferenceError(415, f"{content_type} is not an accepted ContentType: {', '.join(CONTENT_TYPES)}.")
    label_size = dict(p.partition("=")[::2] for p in parameters if "=" in p).get("label_size")
    if data_format == "csv" and label_size not in (None, "1"):
        raise InferenceError(415, f"{content_type} is not an accepted csv ContentType. Optional parameter label_size "
                                  "must be equal to 1")
    return data_format


def _request(image: XGBoostImage, body: bytes, content_type: str | None) -> tuple[str, Any]:
    data_format = request_format(content_type)
    if data_format == "recordio-protobuf":
        raise SmpipeError("application/x-recordio-protobuf requests are not served locally",
                          hint="send text/csv or text/libsvm to the local transform")
    if data_format not in ("csv", "libsvm"):
        raise InferenceError(415, f"Content-type {content_type} is not supported.")
    try:
        text = body.strip().decode("utf-8")
        matrix = _csv_matrix(text) if data_format == "csv" else _libsvm_matrix(text, image.shifts_libsvm_indices)
        return data_format, library().DMatrix(matrix)
    except (ValueError, csv.Error, UnicodeDecodeError) as error:
        raise InferenceError(415, f"Loading {data_format} data failed with Exception, please ensure data is in "
                                  f"{data_format} format: {type(error)} {error}") from None


def _csv_matrix(text: str) -> Any:
    import numpy as np

    sniffed = csv.Sniffer().sniff(text.split("\n")[0][:512]).delimiter
    delimiter = "," if sniffed.isalnum() else sniffed
    rows = [["nan" if field == "" else field for field in line.split(delimiter)] for line in text.split("\n")]
    return np.array(rows).astype(float)


def _libsvm_matrix(text: str, shift: bool) -> Any:
    """Index:value tokens of each line (a token without ':' such as a label is skipped)."""
    import numpy as np
    from scipy.sparse import csr_matrix

    rows, columns, values = [], [], []
    for row, line in enumerate(text.split("\n")):
        for item in line.split(" "):
            if ":" in item:
                column, value = item.split(":")[:2]
                rows.append(row)
                columns.append(int(column))
                values.append(value)
    indices = np.array(columns, dtype=int)
    if shift and len(indices) and indices.min() >= 1:
        indices = indices - 1
    return csr_matrix((np.array(values).astype(float), (np.array(rows), indices)))


def _predictions(model: XGBoostModel, dmatrix: Any, data_format: str) -> Any:
    import numpy as np

    if model.pickled:
        _check_feature_count(model.boosters[0].num_features(), dmatrix.num_col(), data_format)
    try:
        outputs = [booster.predict(dmatrix, validate_features=False, iteration_range=_best_rounds(booster))
                   for booster in model.boosters]
    except (library().core.XGBoostError, ValueError) as error:
        raise InferenceError(400, f"Unable to evaluate payload provided: {error}") from None
    if len(outputs) == 1:
        return outputs[0]
    if model.objective in ("multi:softmax", "binary:hinge"):  # the ensemble votes
        from scipy import stats

        return stats.mode(np.array(outputs), axis=0).mode
    return np.mean(outputs, axis=0)


def _best_rounds(booster: Any) -> tuple[int, int]:
    """Up to the best round when early stopping recorded one (``best_ntree_limit`` in the
    container): the whole model from 1.3-1, which keeps only those rounds."""
    best = booster.attr("best_iteration")
    return (0, int(best) + 1) if best is not None else (0, 0)


def _check_feature_count(model_features: int, data_features: int, data_format: str) -> None:
    if data_format == "libsvm" and data_features > model_features + 1:
        raise InferenceError(400, f"Unable to evaluate payload provided: Feature size of libsvm inference data "
                                  f"{data_features} is larger than feature size of trained model {model_features}.")
    if data_format == "csv" and data_features not in (model_features, model_features - 1):
        raise InferenceError(400, f"Unable to evaluate payload provided: Feature size of csv inference data "
                                  f"{data_features} is not consistent with feature size of trained model "
                                  f"{model_features}.")

