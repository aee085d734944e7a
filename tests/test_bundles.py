"""What a step's code bundle holds (render/bundles.py), on source trees in the layouts users have:
flat script folders (the examples, the template), the original framework's package per step,
shared helper packages, relative and dynamic imports. No SDK: the analysis only parses."""

from __future__ import annotations

from pathlib import Path

import pytest

from helpers import write
from smpipe_gen.render.bundles import step_entries, top_entries


def tree(root: Path, files: dict[str, str]) -> list[str]:
    for name, text in files.items():
        write(root / name, text)
    return sorted(files)


def test_flat_scripts_ship_their_own_file_and_what_they_import(tmp_path):
    files = tree(tmp_path, {
        "preprocess.py": "import pandas as pd\nfrom features import build\n",
        "features.py": "import numpy\nfrom . import nothing_here\n",
        "train.py": "import xgboost\n",
        "evaluate.py": "from inference import model_fn\n",
        "inference.py": "import os\n",
        "requirements.txt": "xgboost\n",
        "columns.json": "[]\n",
    })
    assert step_entries(tmp_path, files, "preprocess.py") == ["columns.json", "features.py", "preprocess.py",
                                                             "requirements.txt"]
    assert step_entries(tmp_path, files, "train.py") == ["columns.json", "requirements.txt", "train.py"]
    assert step_entries(tmp_path, files, "evaluate.py") == ["columns.json", "evaluate.py", "inference.py",
                                                           "requirements.txt"]


def test_the_original_layout_ships_the_step_package_and_the_packages_it_imports(tmp_path):
    """One package per step (``training/training.py``, run as ``python -m training.training``
    or as a script), a shared ``common`` package, the model's conf beside them."""
    files = tree(tmp_path, {
        "training/__init__.py": "",
        "training/training.py": "from training.helpers import fit\nimport common.metrics as m\n",
        "training/helpers.py": "from .losses import mse\n",
        "training/losses.py": "",
        "training/requirements.txt": "lightgbm\n",
        "common/__init__.py": "",
        "common/metrics.py": "from common import io\n",
        "common/io.py": "",
        "preprocessing/__init__.py": "",
        "preprocessing/preprocessing.py": "import common.io\n",
        "conf/conf.yaml": "conf: {}\n",
        "requirements.txt": "pandas\n",
    })
    inputs = ["conf/conf.yaml"]
    assert step_entries(tmp_path, files, "training/training.py", inputs) == ["common", "requirements.txt", "training"]
    assert step_entries(tmp_path, files, "preprocessing/preprocessing.py", inputs) == [
        "common", "preprocessing", "requirements.txt"]


def test_a_script_run_from_its_own_directory_finds_its_siblings(tmp_path):
    """The training toolkit runs ``src/train.py`` as a script: ``import utils`` finds
    ``src/utils.py``; and a helper package imported only through a submodule counts too."""
    files = tree(tmp_path, {"src/train.py": "import utils\nfrom lib.deep import thing\n", "src/utils.py": "",
                            "lib/deep.py": "", "tools/unused.py": ""})
    assert step_entries(tmp_path, files, "src/train.py") == ["lib", "src"]


def test_imports_are_followed_transitively_and_dynamic_ones_with_a_literal_name(tmp_path):
    files = tree(tmp_path, {
        "run.py": "import a\n",
        "a.py": "def f():\n    import b\n",
        "b.py": "import importlib\nplugin = importlib.import_module('plugins.fast')\n",
        "plugins/fast.py": "",
        "plugins/slow.py": "",
        "c.py": "",
        "loader.py": "mod = __import__('c')\n",
    })
    assert step_entries(tmp_path, files, "run.py") == ["a.py", "b.py", "plugins", "run.py"]
    assert step_entries(tmp_path, files, "loader.py") == ["c.py", "loader.py"]


def test_resource_directories_ship_and_unused_code_directories_do_not(tmp_path):
    files = tree(tmp_path, {"train.py": "", "assets/vocab.txt": "a\n", "tests/test_train.py": "import train\n",
                            "notebooks/explore.py": "", "README.md": "", "docs/usage.rst": "", "dag.png": ""})
    assert step_entries(tmp_path, files, "train.py") == ["assets", "dag.png", "train.py"]


def test_the_render_inputs_never_ship(tmp_path):
    """A model whose source_directory is the repository root: its config and env files stay out."""
    files = tree(tmp_path, {"train.py": "", "conf/conf.yaml": "", "env.env": "", "environments/dev.env": "",
                            "columns.yaml": ""})
    inputs = ["conf/conf.yaml", "env.env", "environments/dev.env"]
    assert step_entries(tmp_path, files, "train.py", inputs) == ["columns.yaml", "train.py"]


def test_a_file_the_analysis_cannot_parse_ships_the_whole_directory(tmp_path):
    files = tree(tmp_path, {"train.py": "import helpers\n", "helpers.py": "def broken(:\n", "other.py": ""})
    assert step_entries(tmp_path, files, "train.py") == top_entries(files) == ["helpers.py", "other.py", "train.py"]
    (tmp_path / "helpers.py").write_text("x = " + "-" * 2_000_000 + "1\n")  # deeper than the parser goes
    assert step_entries(tmp_path, files, "train.py") == top_entries(files)


UNSHIPPED_FORMS = {  # a line of preprocess.py -> (how the detector says it refers, the files it names)
    "subprocess.run([sys.executable, 'helper.py'], check=True)": ("starts it with subprocess", ["helper.py"]),
    "runpy.run_path(os.path.join(os.path.dirname(__file__), 'runner.py'))": ("runs it with runpy", ["runner.py"]),
    "importlib.import_module(f'plugins.{os.environ[\"P\"]}')": (
        "imports a module by a computed name", ["plugins/__init__.py", "plugins/fast.py"]),
    "text = open('/opt/ml/processing/input/code/settings.py').read()": ("opens it", ["settings.py"]),
    "data = pkgutil.get_data(__name__, 'tools/cols.json')": ("reads it with pkgutil", ["tools/cols.json"]),
    "subprocess.run([sys.executable, '-m', 'tools.job'])": ("starts it with python -m", ["tools/__init__.py", "tools/job.py"]),
    "COLUMNS = 'tools/cols.json'": ("names it", ["tools/cols.json"]),
    "text = (Path(__file__).parent / os.environ['X']).read_text()": (
        "reads it by a path built at run time", ["helper.py", "plugins/__init__.py", "plugins/fast.py", "runner.py",
                                                  "settings.py", "tools/__init__.py", "tools/cols.json", "tools/job.py"]),
    '"""Mentions helper.py in a docstring."""': None,  # a docstring refers to nothing
    "import train": None,  # shipped: the analysis follows the import
}


@pytest.mark.parametrize("line", UNSHIPPED_FORMS)
def test_what_shipped_code_refers_to_without_importing_it_is_found(tmp_path, line):
    from smpipe_gen.render import unshipped

    files = tree(tmp_path, {"scripts/preprocess.py": f"import importlib, os, pkgutil, runpy, subprocess, sys\n{line}\n",
                            **{f"scripts/{name}": "" for name in ("helper.py", "runner.py", "settings.py", "train.py",
                                                                  "plugins/__init__.py", "plugins/fast.py",
                                                                  "tools/__init__.py", "tools/job.py")},
                            "scripts/tools/cols.json": "[]"})
    found = unshipped.find(tmp_path, "scripts", files, {"Pre": ["scripts/preprocess.py", "scripts/train.py"]})
    expected = UNSHIPPED_FORMS[line]
    assert [(u.file, u.line, u.how, u.targets, u.steps) for u in found] == ([] if expected is None else [
        ("scripts/preprocess.py", 2, expected[0], [f"scripts/{name}" for name in expected[1]], ["Pre"])])
