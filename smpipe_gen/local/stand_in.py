"""``run --local --stand-in STEP=FILE.json``: a step that is not run; its properties are the
file's, so the rest of the pipeline runs. And the one check, before anything runs, of every step
this runner has no faithful local version of: refused, one line per step, naming the stand-in.

The file is a JSON object shaped like the properties the step's downstream steps read (its
Describe* response: ``{"ProcessingOutputConfig": ...}``; for a Lambda or Callback step
``{"OutputParameters": [{"Name": ..., "Value": ...}]}``, as ListPipelineExecutionSteps shows
them; for a ClarifyCheck or QualityCheck step ``{"CalculatedBaselineConstraints": "s3://...",
...}``). It is checked against the definition: every property a downstream step reads from the
step must be in it (unless that step is stood in too, so reads nothing), and declared outputs are
cast to their OutputType. A stood-in step shows as "stood in" in the progress and the run record,
naming the file: never a silent pass.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from smpipe_gen.definition import Definition, Step, parse_json
from smpipe_gen.errors import SmpipeError, did_you_mean, shorten
from smpipe_gen.local.expressions import walk
from smpipe_gen.local.jobs import StepResult
from smpipe_gen.local.jobs import lambda_function
from smpipe_gen.paths import inside
from smpipe_gen.steps import local_types, step_type

EXAMPLE = "STEP=FILE.json"


@dataclass(frozen=True)
class StandIn:
    step: str  # the definition's step name
    file: str  # as the user gave it
    properties: dict[str, Any]
    branch: bool | None = None  # a Condition step's Outcome: the branch taken

    @property
    def note(self) -> str:
        return f"stood in by {self.file}: not run"

    def result(self) -> StepResult:
        return StepResult(properties=self.properties, branch=self.branch)


def option(where: str) -> str:
    """The ``--stand-in`` option for a step that cannot run locally; ``where`` names the step as
    the refusals do ("step NAME")."""
    return f"--stand-in {where.removeprefix('step ')}=FILE.json"


def hint(where: str) -> str:
    """The way past a step that cannot run locally, as the refusals give it."""
    return f"pass {option(where)} with the properties the steps after it read"


def load(values: Iterable[str], definition: Definition, root: Path) -> dict[str, StandIn]:
    """``--stand-in STEP=FILE.json`` values, each checked: a step of ``definition`` (its name or
    the name a person wrote), a JSON object file inside ``root`` holding what the steps that run
    after it read (the steps stood in too read nothing)."""
    given = [_read(item, definition, root) for item in values]
    stood = {step.name for step, *_ in given}
    return {step.name: StandIn(step.name, file, _properties(step, data, definition, stood, where),
                               _outcome(step, data, where))
            for step, file, data, where in given}


def _outcome(step: Step, data: Any, where: str) -> bool | None:
    """The branch a stood-in Condition step takes: its ``Outcome``, as the step itself reports it."""
    if step.type != "Condition":
        return None
    outcome = data.get("Outcome") if isinstance(data, dict) else None
    if str(outcome) not in ("True", "False", "true", "false"):
        raise SmpipeError(f"a Condition step's stand-in gives its Outcome, true or false, not {shorten(repr(outcome))}",
                          where=where, hint='e.g. {"Outcome": "True"}: the If branch is taken')
    return str(outcome).lower() == "true"


def _read(item: str, definition: Definition, root: Path) -> tuple[Step, str, Any, str]:
    """One ``STEP=FILE.json``: the step, the file as given, its JSON, and where to say it."""
    name, sep, file = item.partition("=")
    if not sep or not name.strip() or not file:
        raise SmpipeError(f"{shorten(repr(item))} is not {EXAMPLE}", where="--stand-in",
                          hint="e.g. --stand-in CheckBias=stand-ins/check-bias.json")
    step = definition.named(name.strip())
    where = f"--stand-in {shorten(name.strip())}"
    if step is None:
        names = list(dict.fromkeys(s.display_name for s in definition))
        raise SmpipeError(f"no step named {shorten(repr(name.strip()))}", where=where,
                          hint=did_you_mean(name.strip(), names, f"steps: {shorten(', '.join(names), 200)}"))
    path = inside(root, file, where=where, what="file", hint="a JSON file inside the project")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise SmpipeError(f"cannot read {shorten(file)}: {getattr(error, 'strerror', None) or error}", where=where,
                          hint="a JSON file with the step's properties") from None
    data = parse_json(text, f"{where}={shorten(file)}", "stand-in", "write the step's properties as a JSON object")
    return step, file, data, f"{where}={shorten(file)}"


def _properties(step: Step, data: Any, definition: Definition, stood: set[str], where: str) -> dict[str, Any]:
    """``data`` as the step's properties: a JSON object; OutputParameters as ``{name: typed value}``
    (what ``Steps.X.OutputParameters['name']`` reads); every reference to the step resolvable but
    those from the steps in ``stood`` (this one among them): a stood-in step is not run, so reads
    nothing."""
    if not isinstance(data, dict):
        raise SmpipeError(f"a stand-in is a JSON object of the step's properties, not a {type(data).__name__}",
                          where=where, hint='e.g. {"OutputParameters": [{"Name": "x", "Value": "1"}]}')
    properties = dict(data)
    if "OutputParameters" in data:
        properties["OutputParameters"] = _outputs(step, data["OutputParameters"], where)
    for reader in definition:
        if reader.name in stood:
            continue
        for reference in reader.references:
            if reference.step != step.name:
                continue
            if reference.path.startswith("PropertyFiles."):
                raise SmpipeError(f"step {reader.display_name} reads the property file {reference.path[14:]!r} of "
                                  "this step with JsonGet; a stand-in holds properties, not files", where=where,
                                  hint="stand in for the step that reads it too")
            try:
                walk(properties, reference.path, where)
            except SmpipeError:
                raise SmpipeError(f"has no {shorten(reference.path)}, which step {reader.display_name} reads",
                                  where=where, hint="give every property the downstream steps read") from None
    return properties


def _outputs(step: Step, given: Any, where: str) -> dict[str, Any]:
    """``[{"Name", "Value"}]`` as the step's typed outputs (its declared OutputParameters)."""
    hint = 'write "OutputParameters": [{"Name": "x", "Value": "1"}] with the step\'s declared outputs'
    if not isinstance(given, list) or not all(isinstance(o, dict) and isinstance(o.get("Name"), str) and "Value" in o
                                              for o in given):
        raise SmpipeError("OutputParameters is not a list of {Name, Value} objects", where=where, hint=hint)
    declared = lambda_function.declared_outputs(step.body)
    unknown = [o["Name"] for o in given if o["Name"] not in declared]
    if unknown:
        raise SmpipeError(f"the step declares no output {shorten(repr(unknown[0]))}", where=where,
                          hint=did_you_mean(unknown[0], declared, f"declared: {', '.join(declared) or 'none'}"))
    try:
        return {o["Name"]: lambda_function.typed_output(o["Name"], declared[o["Name"]], o["Value"]) for o in given}
    except ValueError as error:
        raise SmpipeError(str(error), where=where, hint=hint) from None


def refusals(definition: Definition, stand_ins: Mapping[str, StandIn],
             functions: Mapping[str, Any]) -> list[SmpipeError]:
    """One error per step that cannot run locally and has no stand-in: a step type the registry
    has no local runner for (smpipe_gen/steps), a Lambda step whose function this run does not know."""
    problems = []
    for step in definition:
        if step.name in stand_ins:
            continue
        kind = step_type(step.type)
        if not kind.runner:
            problems.append(SmpipeError(
                f"step type {step.type!r} has no local version: {kind.refusal}", where=f"step {step.name}",
                hint=f"{hint(f'step {step.display_name}')} (local runs support {', '.join(local_types())})"))
        elif step.type == "Lambda":
            refused = lambda_function.refusal(step.body, functions)
            if refused is not None:
                problems.append(refused)
    return problems
