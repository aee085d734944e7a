"""What a built-in XGBoost training job's container runs, run as the job's process:
``python -I .../smpipe_gen/local/algorithms/container.py train OPT_ML IMAGE_TAG``.

It reads the job as the container does, from ``OPT_ML`` (``input/config/hyperparameters.json``,
``input/config/inputdataconfig.json`` for each channel's ContentType, ``input/data/<channel>``),
trains (``xgboost.train``), writes ``model/xgboost-model``, and logs one line per round to stdout,
where the runner matches the service's metric definitions (``xgboost.metric_definitions``).

A job that the container would fail writes ``output/failure`` (the reason the runner reports, as
DescribeTrainingJob's FailureReason) and exits 1. ``-I``: no user code runs here, so the job needs
no repository guard (local/isolation.py) and reads no PYTHONPATH. Run by path, the file imports the
smpipe-gen it belongs to (the runner's own, installed or not), never another one on the path."""

from __future__ import annotations

import json
import sys
from pathlib import Path

if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[3]))

from smpipe_gen.errors import SmpipeError  # noqa: E402
from smpipe_gen.local.algorithms import AlgorithmError  # noqa: E402

PROGRAM = Path(__file__).resolve()


def train(opt_ml: Path, image_tag: str) -> None:
    """The job as the container reads it from ``opt_ml``; round lines on stdout, the step's log."""
    from smpipe_gen.local.algorithms import xgboost

    config = opt_ml / "input" / "config"
    hyperparameters = json.loads((config / "hyperparameters.json").read_text(encoding="utf-8"))
    channels = json.loads((config / "inputdataconfig.json").read_text(encoding="utf-8"))
    xgboost.train({name: opt_ml / "input" / "data" / name for name in channels},
                  {name: spec.get("ContentType") for name, spec in channels.items()},
                  hyperparameters, opt_ml / "model", image_tag,
                  log=lambda line: print(line, flush=True),
                  say=lambda note: print(f"[smpipe-gen] {note}", flush=True))


def main(argv: list[str]) -> int:
    command, opt_ml, image_tag = argv
    if command != "train":
        raise SystemExit(f"unknown command {command!r}")
    try:
        train(Path(opt_ml), image_tag)
    except AlgorithmError as error:
        return _failed(Path(opt_ml), f"AlgorithmError: {error}")
    except SmpipeError as error:  # what has no local version, found only once the data is read
        return _failed(Path(opt_ml), error.one_line())
    return 0


def _failed(opt_ml: Path, reason: str) -> int:
    failure = opt_ml / "output" / "failure"
    failure.parent.mkdir(parents=True, exist_ok=True)
    failure.write_text(reason, encoding="utf-8")
    print(reason, file=sys.stderr, flush=True)
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
