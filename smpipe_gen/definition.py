"""The one model of a pipeline definition: typed, read-only, read from the JSON alone.

``plan``, ``apply``, ``graph`` and ``run --local`` read the rendered ``definition.json`` (and its
``manifest.json``) through this module, never through the SageMaker SDK. A definition becomes
parameters and steps; each step knows its type, the name a person wrote, its arguments, its cache
policy, the steps it waits for and why (``DependsOn``, property references, the Condition step
whose branch holds it), the code objects it runs and, when a manifest says so, where it comes
from in the config (model, section, the config's step class). A definition nobody rendered
(``run --local --definition``, ``plan --base-definition``) has no manifest: the origin is
unknown and code objects are found at the places the SDK puts them.

Everything is frozen: dataclasses, tuples and read-only mappings (``thaw`` gives plain JSON
back). ``load`` and ``load_file`` are the one way to read the files, with one message for each
way reading can fail.
"""

from __future__ import annotations

import dataclasses
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Iterator, Mapping

from smpipe_gen.errors import SmpipeError
from smpipe_gen.json_values import as_list, freeze, strings, thaw
from smpipe_gen.steps import step_type
from smpipe_gen.dag import StepGraph, from_upstreams

if TYPE_CHECKING:
    from smpipe_gen.manifest import CodeArtifact, Manifest
    from smpipe_gen.project import Project

RENDER_HINT = "run `smpipe-gen render`"
EDGE_KINDS = ("data", "depends", "if", "else")
_EMPTY: Mapping[str, Any] = MappingProxyType({})


# -- the model ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Parameter:
    name: str
    type: str  # String, Integer, Float, Boolean
    default: Any = None  # None: no default (the value must be given at start)
    enum_values: tuple[Any, ...] | None = None


_DURATION = re.compile(r"^P(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?$")


def expire_seconds(text: str | None) -> float | None:
    """ISO 8601 duration (CacheConfig.ExpireAfter) in seconds; None means never expires."""
    match = _DURATION.match(text) if isinstance(text, str) else None  # a hand-made definition may give any JSON
    if not text or not match:
        return None
    y, mo, w, d, h, mi, s = (int(g or 0) for g in match.groups())
    return ((((y * 365 + mo * 30 + w * 7 + d) * 24 + h) * 60 + mi) * 60) + s


@dataclass(frozen=True)
class CacheConfig:
    enabled: bool
    expire_after: str | None = None  # ISO 8601 duration, e.g. "P10D"


@dataclass(frozen=True)
class Reference:
    """A value a step reads from another step: ``Get: Steps.<step>.<path>``; ``via`` says
    "JsonGet" when it reads one of that step's property files (``PropertyFiles.<name>``)."""

    step: str
    path: str
    via: str = "Get"


@dataclass(frozen=True)
class PropertyFile:
    name: str
    output_name: str
    file_path: str


@dataclass(frozen=True)
class CodeObject:
    """An S3 object of code a step runs; ``artifact`` is the manifest's record of it (what
    repository files it packs), None for a definition without a manifest."""

    s3_uri: str
    artifact: "CodeArtifact | None" = None


@dataclass(frozen=True)
class Origin:
    """Where a step comes from in the config (from the manifest's ``steps`` record)."""

    step: str  # the config's step_name (a ModelStep's X of X-CreateModel)
    model: str  # the config model (conf.models.<model>)
    step_class: str  # as the config names it: "Metrics", not the definition's "Processing"
    section: str | None = None  # the model section it uses (preprocess, train, ...)


@dataclass(frozen=True)
class Step:
    name: str
    type: str  # the definition's Type
    display_name: str  # the name a person wrote: X for X-CreateModel
    arguments: Mapping[str, Any]  # read-only; a Condition's without IfSteps/ElseSteps
    body: Mapping[str, Any]  # the whole step as in the definition (read-only)
    cache: CacheConfig | None = None
    depends_on: tuple[str, ...] = ()
    references: tuple[Reference, ...] = ()
    property_files: tuple[PropertyFile, ...] = ()
    condition: str | None = None  # the Condition step whose branch holds this step
    branch: str | None = None  # "if" or "else" inside ``condition``
    if_steps: tuple[str, ...] = ()
    else_steps: tuple[str, ...] = ()
    code: tuple[CodeObject, ...] = ()
    origin: Origin | None = None

    @property
    def referenced_steps(self) -> tuple[str, ...]:
        """The steps whose properties this step reads, sorted."""
        return tuple(sorted({ref.step for ref in self.references} - {self.name}))

    @property
    def upstream(self) -> tuple[str, ...]:
        """Every step this one waits for: DependsOn, references, the Condition holding it."""
        found = set(self.depends_on) | set(self.referenced_steps)
        if self.condition:
            found.add(self.condition)
        return tuple(sorted(found))

    @property
    def step_class(self) -> str:
        """The step type as the config names it (``Metrics``), else the definition's Type."""
        return self.origin.step_class if self.origin else self.type

    @property
    def model(self) -> str | None:
        return self.origin.model if self.origin else None

    def code_files(self) -> dict[str, str]:
        """Repository path -> sha256 of the code the step runs, from the manifest (empty without
        one); an object packing no repository file (generated code) as ``(generated NAME)``."""
        files: dict[str, str] = {}
        for code in self.code:
            if code.artifact is None:
                continue
            if code.artifact.files:
                files.update({f.path: f.sha256 for f in code.artifact.files})
            else:
                files[f"(generated {code.s3_uri.rsplit('/', 1)[-1]})"] = code.artifact.sha256
        return files

    def json(self) -> dict[str, Any]:
        """The step as plain JSON (a copy), nested branch steps included."""
        return thaw(self.body)

    def own_json(self) -> dict[str, Any]:
        """The step as plain JSON without the steps nested in its branches (those are steps
        of their own): what describes this step alone."""
        return {**thaw(self.body), "Arguments": thaw(self.arguments)} if "Arguments" in self.body else thaw(self.body)


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    kind: str  # one of EDGE_KINDS


@dataclass(frozen=True)
class Definition:
    """A pipeline definition. ``steps`` holds every step by name in definition order, the
    steps of condition branches included (after their Condition step)."""

    steps: Mapping[str, Step]
    parameters: tuple[Parameter, ...]
    graph: StepGraph = field(repr=False, compare=False)
    data: Mapping[str, Any] = field(repr=False)  # the whole definition, read-only
    manifest: "Manifest | None" = field(default=None, repr=False, compare=False)
    text: str | None = field(default=None, repr=False, compare=False)  # the file's text, when read from one

    def __iter__(self) -> Iterator[Step]:
        return iter(self.steps.values())

    def __len__(self) -> int:
        return len(self.steps)

    def __contains__(self, name: object) -> bool:
        return name in self.steps

    def __getitem__(self, name: str) -> Step:
        return self.steps[name]

    @property
    def top_level(self) -> tuple[Step, ...]:
        """The steps not inside a condition branch."""
        return tuple(step for step in self if step.condition is None)

    def json(self) -> dict[str, Any]:
        """The definition as plain JSON (a copy)."""
        return thaw(self.data)

    def edges(self) -> tuple[Edge, ...]:
        """Every edge once, sorted; a data reference that duplicates a DependsOn is kept as data."""
        found: dict[tuple[str, str], str] = {}
        for step in self:
            if step.condition:
                found[(step.condition, step.name)] = step.branch or "if"
            for source in step.referenced_steps:
                found.setdefault((source, step.name), "data")
            for source in step.depends_on:
                found.setdefault((source, step.name), "depends")
        return tuple(Edge(s, t, k) for (s, t), k in sorted(found.items()))

    def upstream(self, name: str) -> tuple[str, ...]:
        return self.steps[name].upstream

    def downstream(self, name: str) -> list[str]:
        """The steps that run after ``name`` and may see its effect, in definition order."""
        return self.graph.descendants(name)

    def ancestors(self, name: str) -> list[str]:
        """The steps ``name`` waits for, directly or not, in definition order."""
        return self.graph.ancestors(name)

    def order(self) -> list[str]:
        """An execution order; among ready steps, definition order wins."""
        return self.graph.order()

    def named(self, name: str) -> Step | None:
        """The step a person means by ``name``: its SDK name, its display name, or the name of
        a ModelStep (its first step: the repack when there is one)."""
        if name in self.steps:
            return self.steps[name]
        for step in self:
            match = _MODEL_STEP.match(step.name)
            if step.display_name == name or (match and match["base"] == name and step.display_name != step.name):
                return step
        return None

    def steps_using(self, s3_uri: str) -> list[str]:
        """The steps that run the code object ``s3_uri``, in definition order (a changed code
        object changes the cache key of each of them)."""
        return [step.name for step in self if any(code.s3_uri == s3_uri for code in step.code)]

    def models(self) -> dict[str | None, list[str]]:
        """Step names per config model (None: steps whose model is unknown), definition order."""
        found: dict[str | None, list[str]] = {}
        for step in self:
            found.setdefault(step.model, []).append(step.name)
        return found


# -- building it from JSON ---------------------------------------------------------------------
# The SageMaker SDK's ModelStep turns a step named X into X-CreateModel or X-RegisterModel, after
# X-RepackModel-<n> when it repacks the model; the name a person wrote (in a config or an SDK
# program) is X.
_MODEL_STEP = re.compile(r"^(?P<base>.+)-(?:CreateModel|RegisterModel|RepackModel-(?P<repack>\d+))$")
_MODEL_STEP_TYPES = {"CreateModel": "Model", "RegisterModel": "RegisterModel", "RepackModel": "Training"}


def config_step_name(name: str, names: set[str]) -> str:
    """The name a config or SDK program gave the definition step ``name`` (``X`` for
    ``X-CreateModel``, ``X-RegisterModel`` and ``X-RepackModel-n``), where ``names`` are the
    names it may be; ``name`` itself when it is one of them or no ModelStep suffix applies."""
    match = _MODEL_STEP.match(name)
    if name in names or not match or match["base"] not in names:
        return name
    return match["base"]


def from_json(data: Any, manifest: "Manifest | None" = None, where: str = "definition.json") -> Definition:
    """The model of parsed definition JSON; a definition SageMaker would refuse (not an object,
    a step without a name, a name used twice, a reference to no step, a cycle) is an error
    naming ``where`` (the file) or the step."""
    if not isinstance(data, dict) or not isinstance(data.get("Steps", []), list):
        raise SmpipeError("not a pipeline definition (no Steps list)", where=where,
                          hint="give the JSON of Pipeline.definition()")
    raw: dict[str, tuple[dict, str | None, str | None]] = {}
    _collect(data.get("Steps", []), None, None, raw, where)
    displays = _display_names({name: body.get("Type", "?") for name, (body, _, _) in raw.items()})
    origins = _origins(manifest)
    artifacts = {artifact.s3_uri: artifact for artifact in manifest.artifacts} if manifest else None
    steps = {name: _step(body, displays[name], parent, branch, origins.get(name), artifacts)
             for name, (body, parent, branch) in raw.items()}
    for step in steps.values():
        unknown = sorted(set(step.upstream) - steps.keys())
        if unknown:
            raise SmpipeError(f"refers to unknown step {unknown[0]!r}", where=f"step {step.name}", hint=RENDER_HINT)
    graph = from_upstreams((step.name, step.upstream) for step in steps.values())
    cycle = graph.find_cycle()
    if cycle:
        raise SmpipeError(f"dependency cycle: {' -> '.join(cycle)}", where=where)
    return Definition(steps=MappingProxyType(steps), parameters=_parameters(data.get("Parameters", []), where),
                      graph=graph, data=freeze(data), manifest=manifest)


def _collect(items: Any, parent: str | None, branch: str | None,
             found: dict[str, tuple[dict, str | None, str | None]], where: str) -> None:
    """Every step by name, depth first: a Condition step, then its if and its else steps."""
    if not isinstance(items, list):
        raise SmpipeError(f"the {branch} steps are not a list", where=f"step {parent}", hint=RENDER_HINT)
    for item in items:
        name = item.get("Name") if isinstance(item, dict) else None
        if not isinstance(name, str) or not isinstance(item.get("Type"), str):
            raise SmpipeError("a step without a Name and a Type", where=where, hint=RENDER_HINT)
        if name in found:
            raise SmpipeError(f"step {name!r} appears twice", where=where, hint=RENDER_HINT)
        found[name] = (item, parent, branch)
        if step_type(item["Type"]).branches:
            arguments = item.get("Arguments", {})
            if not isinstance(arguments, dict):
                raise SmpipeError("Arguments is not an object", where=f"step {name}", hint=RENDER_HINT)
            _collect(arguments.get("IfSteps", []), name, "if", found, where)
            _collect(arguments.get("ElseSteps", []), name, "else", found, where)


def _parameters(items: Any, where: str) -> tuple[Parameter, ...]:
    if not isinstance(items, list) or not all(isinstance(p, dict) and isinstance(p.get("Name"), str) for p in items):
        raise SmpipeError("Parameters is not a list of named parameters", where=where, hint=RENDER_HINT)
    return tuple(Parameter(p["Name"], p.get("Type", "String"), freeze(p.get("DefaultValue")),
                           freeze(p["EnumValues"]) if isinstance(p.get("EnumValues"), list) else None) for p in items)


def _display_names(types: dict[str, str]) -> dict[str, str]:
    """Each step's name as a person wrote it: ``X`` for ``X-CreateModel``/``X-RegisterModel``,
    ``X (repack n)`` for ``X-RepackModel-n``; every other step keeps its name. Derived from the
    definition alone, so foreign definitions get it too; a name that would be ambiguous stays
    the SDK's."""
    wanted: dict[str, str] = {}
    for name, kind in types.items():
        match = _MODEL_STEP.match(name)
        suffix = name.rsplit("-", 2)[-2] if match and match["repack"] else name.rsplit("-", 1)[-1]
        if match and match["base"] not in types and _MODEL_STEP_TYPES.get(suffix) == kind:
            wanted[name] = f"{match['base']} (repack {match['repack']})" if match["repack"] else match["base"]
        else:
            wanted[name] = name
    counts: dict[str, int] = {}
    for display in wanted.values():
        counts[display] = counts.get(display, 0) + 1
    return {name: display if counts[display] == 1 or display == name else name for name, display in wanted.items()}


def _origins(manifest: "Manifest | None") -> dict[str, Origin]:
    if manifest is None:
        return {}
    return {name: Origin(step=item.step, model=item.model, step_class=item.step_class, section=item.section)
            for name, item in manifest.steps.items()}


def _step(body: dict, display: str, parent: str | None, branch: str | None, origin: Origin | None,
          artifacts: "dict[str, CodeArtifact] | None") -> Step:
    arguments = body.get("Arguments", {})
    if not isinstance(arguments, dict):
        raise SmpipeError("Arguments is not an object", where=f"step {body['Name']}", hint=RENDER_HINT)
    nested = {"IfSteps", "ElseSteps"} if step_type(body["Type"]).branches else set()
    own = {key: value for key, value in arguments.items() if key not in nested}
    cache = body.get("CacheConfig")
    depends_on = body.get("DependsOn") or []
    if not isinstance(depends_on, list) or not all(isinstance(name, str) for name in depends_on):
        raise SmpipeError("DependsOn is not a list of step names", where=f"step {body['Name']}", hint=RENDER_HINT)
    return Step(
        name=body["Name"], type=body["Type"], display_name=display, arguments=freeze(own), body=freeze(body),
        cache=CacheConfig(bool(cache.get("Enabled")), cache.get("ExpireAfter")) if isinstance(cache, dict) else None,
        depends_on=tuple(depends_on), references=tuple(_references(own)),
        property_files=tuple(PropertyFile(p.get("PropertyFileName", "?"), p.get("OutputName", "?"), p.get("FilePath", "?"))
                             for p in as_list(body.get("PropertyFiles")) if isinstance(p, dict)),
        condition=parent, branch=branch,
        if_steps=tuple(s.get("Name") for s in arguments.get("IfSteps", []) if isinstance(s, dict)) if nested else (),
        else_steps=tuple(s.get("Name") for s in arguments.get("ElseSteps", []) if isinstance(s, dict)) if nested else (),
        code=tuple(CodeObject(uri, artifacts.get(uri) if artifacts is not None else None)
                   for uri in _code_uris(body["Type"], own, artifacts)),
        origin=origin,
    )


def _references(value: Any, via: str = "Get") -> Iterator[Reference]:
    """``Get: Steps.<name>.<path>`` anywhere in ``value`` (step names hold no "." or "[")."""
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "Get" and isinstance(item, str) and item.startswith("Steps."):
                name, path = _split_reference(item[len("Steps."):])
                yield Reference(name, path, "JsonGet" if via == "JsonGet" or path.startswith("PropertyFiles") else "Get")
            else:
                yield from _references(item, "JsonGet" if key == "Std:JsonGet" else via)
    elif isinstance(value, list):
        for item in value:
            yield from _references(item, via)


def _split_reference(text: str) -> tuple[str, str]:
    """``Train.ModelArtifacts.S3ModelArtifacts`` -> ("Train", "ModelArtifacts.S3ModelArtifacts")."""
    name = re.split(r"[.\[]", text, maxsplit=1)[0]
    return name, text[len(name):].removeprefix(".")


def _code_uris(kind: str, arguments: dict, artifacts: "dict[str, CodeArtifact] | None") -> list[str]:
    """The code objects a step runs, in order of appearance: the manifest's artifacts it names,
    or without a manifest the S3 URIs where the SDK puts code for its step type (steps/)."""
    if artifacts is not None:
        return list(dict.fromkeys(text for _key, text in strings(arguments) if text in artifacts))
    return list(dict.fromkeys(step_type(kind).code_uris(arguments)))


# -- reading the files -------------------------------------------------------------------------
# A definition nests some 15 levels (the examples: 12 to 14); a JSON text nested deeper than this
# is refused before it is parsed: json's decoder and every walk of the data recurse, and a
# 100,000-deep file ended plan, graph and run --local in a RecursionError.
MAX_JSON_DEPTH = 100
_JSON_TOKEN = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}]')


def read_json(path: Path, shown: str, what: str, hint: str = RENDER_HINT) -> tuple[Any, str]:
    """Parsed JSON of ``path`` and its text; a missing, unreadable or invalid file is one error
    naming ``shown`` (the path as the user knows it) and, for bad JSON, the line."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SmpipeError(f"{what} not found", where=shown, hint=hint) from None
    except (OSError, UnicodeDecodeError) as error:
        raise SmpipeError(f"cannot read the {what}: {getattr(error, 'strerror', None) or error}",
                          where=shown, hint=hint) from None
    return parse_json(text, shown, what, hint), text


def parse_json(text: str, shown: str, what: str, hint: str = RENDER_HINT) -> Any:
    """``text`` parsed, or one error naming ``shown`` and the line: invalid JSON, or JSON nested
    deeper than MAX_JSON_DEPTH (found by a scan that does not recurse)."""
    depth = 0
    for token in _JSON_TOKEN.finditer(text):
        bracket = token.group()
        if bracket in ("[", "{"):
            depth += 1
            if depth > MAX_JSON_DEPTH:
                line = text.count("\n", 0, token.start()) + 1
                raise SmpipeError(f"{what} nests deeper than {MAX_JSON_DEPTH} levels", where=f"{shown}:{line}",
                                  hint=f"a pipeline definition nests about 15; {hint}")
        elif bracket in ("]", "}"):
            depth -= 1
    try:
        return json.loads(text)
    except ValueError as error:
        line = getattr(error, "lineno", None)
        raise SmpipeError(f"{what} is not valid JSON: {getattr(error, 'msg', error)}",
                          where=f"{shown}:{line}" if line else shown, hint=hint) from None


def load(project: "Project", hint: str = RENDER_HINT) -> Definition:
    """The project's rendered definition with its manifest (both required); ``hint`` is what
    a missing or damaged file's message suggests (a command may name its alternatives)."""
    from smpipe_gen.manifest import Manifest

    shown = project.relative(project.definition_json)
    data, text = read_json(project.definition_json, shown, "rendered definition", hint)
    manifest_shown = project.relative(project.manifest_json)
    manifest = Manifest.from_json(read_json(project.manifest_json, manifest_shown, "rendered manifest", hint)[0],
                                  where=manifest_shown)
    return dataclasses.replace(from_json(data, manifest, where=shown), text=text)


def load_file(path: Path, *, shown: str | None = None, hint: str = RENDER_HINT) -> Definition:
    """Any definition file, without a manifest (``run --local --definition``, ``plan
    --base-definition``); ``shown`` is how messages name it (default: the path)."""
    shown = shown or str(path)
    data, text = read_json(path, shown, "definition", hint)
    return dataclasses.replace(from_json(data, where=shown), text=text)
