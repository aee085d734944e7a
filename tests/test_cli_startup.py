"""Lazy start-up: a command imports only the module that defines it, never the SageMaker SDK
unless it renders, and help text never loads rich. Speed itself is measured in benchmarks/."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys

import pytest
from helpers import EXAMPLES, offline_env

from smpipe_gen import cli


def test_each_command_lives_in_the_module_named_for_it():
    names = {name: importlib.import_module(f"smpipe_gen.commands.{name}").command.name for name in cli.COMMANDS}
    assert names == {name: name for name in cli.COMMANDS}


PROBE = """
import json, sys
sys.argv = ["smpipe-gen", *sys.argv[1:]]
from smpipe_gen.cli import COMMANDS, main
try:
    main()
except SystemExit as done:
    code = done.code
heavy = ("sagemaker", "rich", "pydantic", *(f"smpipe_gen.commands.{name}" for name in COMMANDS))
print(json.dumps({"code": code, "loaded": [name for name in heavy if name in sys.modules]}), file=sys.stderr)
"""


def loaded_by(*args: str) -> tuple[int, set[str]]:
    done = subprocess.run([sys.executable, "-c", PROBE, *args], capture_output=True, text=True,
                          env=offline_env(), timeout=120, check=False)
    report = json.loads(done.stderr.strip().splitlines()[-1])
    return report["code"], set(report["loaded"])


@pytest.mark.parametrize(("args", "expected"), [
    (("--help",), {f"smpipe_gen.commands.{name}" for name in cli.COMMANDS}),
    (("graph", "-C", str(EXAMPLES / "abalone")), {"smpipe_gen.commands.graph"}),
    (("run", "--help"), {"smpipe_gen.commands.run"}),
    (("check", "--help"), {"smpipe_gen.commands.check"}),
])
def test_a_command_loads_only_its_own_module_and_neither_sdk_nor_rich_nor_pydantic(args, expected):
    code, loaded = loaded_by(*args)
    assert code in (0, None) and loaded == expected
