"""The XGBoost algorithm's training channels as its container reads them
(``algorithm_mode/channel_validation.py``, ``data_utils.py``): channels ``train`` (required),
``validation`` and ``code``; the format is the train channel's ContentType (none means libsvm);
CSV has the label first and no header, its delimiter sniffed from the first line; libsvm is
``label[:weight] [qid:q] index:value ...`` with indices used as given.

The container hands whole files to xgboost's own text parser; here they are parsed into numpy
arrays with the same meaning (an empty or non-numeric CSV field is a missing value, short rows are
padded with missing values) so the host's xgboost, whose text parser is deprecated, is not needed
for it. Files are read in sorted path order; hidden files fail the job as in the container."""

from __future__ import annotations

import csv
import math
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from smpipe_gen.errors import SmpipeError
from smpipe_gen.local.algorithms import AlgorithmError
from smpipe_gen.local.algorithms.xgboost_images import library

CHANNELS = ("train", "validation", "code")
# data_utils.VALID_CONTENT_TYPES: exact strings, as the channel check compares them
CONTENT_TYPES = ("csv", "libsvm", "parquet", "recordio-protobuf", "text/csv", "text/libsvm", "text/x-libsvm",
                 "application/x-parquet", "application/x-recordio-protobuf")
FORMAT_OF = {"csv": "csv", "text/csv": "csv", "libsvm": "libsvm", "text/libsvm": "libsvm", "text/x-libsvm": "libsvm",
             "parquet": "parquet", "application/x-parquet": "parquet",
             "recordio-protobuf": "recordio-protobuf", "application/x-recordio-protobuf": "recordio-protobuf"}
DEFAULT_CONTENT_TYPE = "text/libsvm"


def channel_format(channels: Mapping[str, Path], content_types: Mapping[str, str | None]) -> str:
    """``csv`` or ``libsvm``: the data format of the job, from the train channel; refuses the
    channels the container refuses, and the formats that have no local reader."""
    for name in channels:
        if name not in CHANNELS:
            raise AlgorithmError(f"Extraneous channel found: {name}")
    if "train" not in channels:
        raise AlgorithmError("Missing required channel: train")
    for name in channels:
        content_type = content_types.get(name) or DEFAULT_CONTENT_TYPE
        if name != "code" and content_type not in CONTENT_TYPES:
            raise AlgorithmError(f"Channel configuration for '{name}' channel is not supported: ContentType "
                                 f"{content_type!r} (the algorithm accepts {', '.join(CONTENT_TYPES)})")
    return refuse_unread_format(content_types.get("train"))


def refuse_unread_format(train_content_type: str | None) -> str:
    """The job's data format (the train channel's), or SmpipeError for one the algorithm reads
    and this runner does not (parquet, recordio-protobuf); an unknown type is the container's to refuse."""
    data_format = FORMAT_OF.get(train_content_type or DEFAULT_CONTENT_TYPE, "csv")
    if data_format not in ("csv", "libsvm"):
        raise SmpipeError(f"training data in {data_format} format: the local XGBoost algorithm reads csv and libsvm",
                          hint="convert the channels to text/csv (label first, no header) or text/libsvm")
    return data_format


def read_channel(path: Path, data_format: str, csv_weights: bool, say: Callable[[str], None]) -> Any | None:
    """The channel's files as one xgboost DMatrix, or None when it holds no data."""
    files = data_files(Path(path))
    if not files:
        return None
    if data_format == "csv":
        labels, weights, features = read_csv(files, csv_weights, say)
        return library().DMatrix(features, label=labels, weight=weights)
    labels, weights, groups, matrix = read_libsvm(files)
    return library().DMatrix(matrix, label=labels, weight=weights, qid=groups)


def data_files(path: Path) -> list[Path]:
    """The channel's non-empty files, sorted; a hidden file fails the job, as in the container."""
    if not path.is_dir():
        return []
    files = sorted(p for p in path.rglob("*") if p.is_file())
    hidden = next((p for p in files if p.name.startswith(".")), None)
    if hidden is not None:
        raise AlgorithmError(f"Hidden file found in the data path! Remove that before training. ({hidden.name})")
    return [p for p in files if p.stat().st_size > 0]


def read_csv(files: list[Path], csv_weights: bool, say: Callable[[str], None]) -> tuple[Any, Any, Any]:
    """Labels, weights (column 1 when ``csv_weights``) and features of CSV files."""
    import numpy as np

    delimiter = csv_delimiter(files[0])
    tables = [_csv_table(path, delimiter, say) for path in files]
    width = max(table.shape[1] for table in tables)
    table = np.vstack([np.pad(t, ((0, 0), (0, width - t.shape[1])), constant_values=np.nan) for t in tables])
    first = 2 if csv_weights else 1
    return np.nan_to_num(table[:, 0]), table[:, 1] if csv_weights else None, table[:, first:]


def _csv_table(path: Path, delimiter: str, say: Callable[[str], None]) -> Any:
    """One file as a 2-D float array: numpy's fast reader, or field by field when a field is empty,
    not a number, or a row is short."""
    import numpy as np

    try:
        return np.loadtxt(path, delimiter=delimiter, ndmin=2, comments=None, encoding="utf-8")
    except ValueError:
        pass
    with path.open(encoding="utf-8", errors="replace") as handle:
        rows = [_csv_row(line, delimiter, f"{path.name}:{number}", say)
                for number, line in enumerate(handle, 1) if line.strip()]
    table = np.full((len(rows), max(len(row) for row in rows)), np.nan)
    for index, row in enumerate(rows):
        table[index, :len(row)] = row
    return table


def csv_delimiter(path: Path) -> str:
    """The delimiter ``csv.Sniffer`` finds on the first line, as the container does."""
    with path.open(encoding="utf-8", errors="ignore") as handle:
        line = handle.readline()
    try:
        return csv.Sniffer().sniff(line).delimiter
    except csv.Error as error:
        raise AlgorithmError(f"Could not determine delimiter on line {line[:50].strip()!r}: {error}") from None


def _csv_row(line: str, delimiter: str, where: str, say: Callable[[str], None]) -> list[float]:
    values = []
    for field in line.strip().split(delimiter):
        try:
            values.append(float(field) if field.strip() else math.nan)
        except ValueError:
            say(f"{where}: {field.strip()[:40]!r} is not a number: read as a missing value, as the container's "
                "CSV parser reads it (the algorithm's CSV has no header row and the label first)")
            values.append(math.nan)
    return values


def read_libsvm(files: list[Path]) -> tuple[Any, Any, Any, Any]:
    """Labels, weights, query ids and a CSR feature matrix of libsvm files."""
    import numpy as np
    from scipy.sparse import csr_matrix

    labels, weights, groups, columns, values, offsets = [], [], [], [], [], [0]
    for path in files:
        with path.open(encoding="utf-8", errors="replace") as handle:
            for number, line in enumerate(handle, 1):
                tokens = line.split("#", 1)[0].split()
                if tokens:
                    _libsvm_row(tokens, (labels, weights, groups, columns, values), f"{path.name}", number, line)
                    offsets.append(len(columns))
    width = max(columns, default=-1) + 1
    matrix = csr_matrix((np.array(values, dtype=float), np.array(columns, dtype=np.int64), np.array(offsets)),
                        shape=(len(labels), width))
    weight = np.array([1.0 if w is None else w for w in weights]) if any(w is not None for w in weights) else None
    qid = np.array(groups) if any(g is not None for g in groups) else None
    return np.array(labels), weight, qid, matrix


def _libsvm_row(tokens: list[str], into: tuple[list, ...], file: str, number: int, line: str) -> None:
    labels, weights, groups, columns, values = into
    try:
        label, _, weight = tokens[0].partition(":")
        labels.append(float(label))
        weights.append(float(weight) if weight else None)
        group = None
        for token in tokens[1:]:
            index, _, value = token.partition(":")
            if index == "qid":
                group = int(value)
                continue
            columns.append(int(index))
            values.append(float(value))
        groups.append(group)
    except ValueError:
        raise AlgorithmError(f"Line {number} '{line.strip()[:50]}...' of file '{file}' is not 'LIBSVM' format. "
                             "Please ensure the file is in 'LIBSVM' format.") from None
