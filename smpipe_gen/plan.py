"""A semantic diff of two pipeline definitions, written for a reviewer (a PR comment).

Steps are matched by name, then leftover removed/added pairs of the same type are matched by
body (a rename). Each changed leaf of a step is put in a category a reviewer cares about
(instance type, image, code, inputs/outputs, ...); some changes are risks on their own (role,
KMS, VPC, network isolation, a removed gate, a model approved without review).
Reads JSON only: no SageMaker SDK.
"""

from __future__ import annotations

import os
import json
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Mapping

from smpipe_gen import artifacts, definition, drawing
from smpipe_gen.errors import SmpipeError
from smpipe_gen.project import Project

_MISSING = "<none>"
_LIST_KEYS = ("InputName", "OutputName", "ChannelName", "PropertyFileName", "Name")
_EXPRESSIONS = ("Get", "Std:Join", "Std:JsonGet")
_CODE_URI = re.compile(r"s3://.*/[0-9a-f]{32,}/")
RENAME_SIMILARITY = 0.8


@dataclass
class Change:
    """One leaf that differs. ``before``/``after`` are display strings (``<none>`` when absent)."""

    category: str
    path: str
    before: str
    after: str
    note: str = ""  # for code changes: which repository files differ


@dataclass
class StepDiff:
    name: str
    type: str
    status: str  # added, removed, changed, renamed
    old_name: str | None = None
    changes: list[Change] = field(default_factory=list)
    downstream: list[str] = field(default_factory=list)


@dataclass
class ParameterDiff:
    name: str
    status: str  # added, removed, changed
    before: str
    after: str


@dataclass
class Risk:
    kind: str  # role, kms, network, gate, approval
    where: str
    message: str


@dataclass
class Plan:
    base: str  # what the working tree is compared with, for people
    head: str
    steps: list[StepDiff] = field(default_factory=list)
    parameters: list[ParameterDiff] = field(default_factory=list)
    settings: list[Change] = field(default_factory=list)
    risks: list[Risk] = field(default_factory=list)
    before_graph: str = ""
    after_graph: str = ""
    environment: str | None = None  # environments/<name>.env the compared renders belong to

    @property
    def has_changes(self) -> bool:
        return bool(self.steps or self.parameters or self.settings)

    def counts(self) -> dict[str, int]:
        result = {status: 0 for status in ("added", "changed", "removed", "renamed")}
        for step in self.steps:
            result[step.status] += 1
        return result

    def summary(self) -> str:
        if not self.has_changes:
            return "No changes."
        steps = self.counts()
        params = {status: sum(p.status == status for p in self.parameters) for status in ("added", "removed", "changed")}
        text = ("Steps: " + ", ".join(f"{n} {s}" for s, n in steps.items())
                + " | Parameters: " + ", ".join(f"{n} {s}" for s, n in params.items()))
        if self.settings:
            text += f" | Pipeline settings: {len(self.settings)} changed"
        return text + f" | Risks: {len(self.risks)}"


# -- comparing ---------------------------------------------------------------------------------
def show(value: Any) -> str:
    """A compact spelling of a definition value: expressions as Get(...), Join(...)."""
    if isinstance(value, dict) and len(value) == 1:
        (key, inner), = value.items()
        if key == "Get":
            return f"Get({inner})"
        if key == "Std:Join" and isinstance(inner, dict):
            return f"Join({json.dumps(inner.get('On', ''))}, [{', '.join(show(v) for v in inner.get('Values', []))}])"
        if key == "Std:JsonGet" and isinstance(inner, dict):
            return f"JsonGet({show(inner.get('PropertyFile'))}, {inner.get('Path')})"
    if isinstance(value, list):
        return "[" + ", ".join(show(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {show(v)}" for k, v in sorted(value.items())) + "}"
    return json.dumps(value, ensure_ascii=False)


def flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    """Leaf paths of a step body. Lists of named items are keyed by name (ProcessingInputs[code])
    so inserting one input does not shift every other; expressions and scalar lists are leaves."""
    if isinstance(value, dict) and value and not (len(value) == 1 and next(iter(value)) in _EXPRESSIONS):
        leaves: dict[str, Any] = {}
        for key, item in value.items():
            leaves.update(flatten(item, f"{prefix}.{key}" if prefix else key))
        return leaves
    if isinstance(value, list) and value and all(isinstance(item, dict) for item in value):
        for key in _LIST_KEYS:
            names = [item.get(key) for item in value]
            if all(isinstance(n, str) for n in names) and len(set(names)) == len(names):
                return {path: leaf for item in value for path, leaf in flatten(item, f"{prefix}[{item[key]}]").items()}
        return {path: leaf for i, item in enumerate(value) for path, leaf in flatten(item, f"{prefix}[{i}]").items()}
    return {prefix: value}


def categorize(path: str, before: Any, after: Any) -> str:
    last = re.split(r"[.\[]", path)[-1]
    texts = [show(v) for v in (before, after)]
    if "Kms" in path:
        return "kms"
    if last.endswith("RoleArn"):
        return "role"
    if any(word in path for word in ("VpcConfig", "NetworkConfig", "EnableNetworkIsolation",
                                      "EnableInterContainerTrafficEncryption")):
        return "network"
    if any(_CODE_URI.search(text) for text in texts) or "sagemaker_submit_directory" in path \
            or "sagemaker_program" in path:
        return "code"
    if "InstanceType" in last:
        return "instance type"
    if "InstanceCount" in last or "VolumeSizeInGB" in last:
        return "resources"
    if last in ("ImageUri", "TrainingImage", "Image"):
        return "image"
    if "HyperParameters" in path:
        return "hyperparameters"
    if "Environment" in path:
        return "environment"
    if path.startswith("CacheConfig"):
        return "cache"
    if path.startswith("RetryPolicies"):
        return "retry"
    if path.startswith("DependsOn"):
        return "dependencies"
    if path.startswith("Gate"):
        return "gate"
    if any(word in path for word in ("ProcessingInputs", "ProcessingOutputConfig", "InputDataConfig",
                                      "OutputDataConfig", "TransformInput", "TransformOutput", "PropertyFiles")):
        return "inputs/outputs"
    if "Conditions" in path:
        return "condition"
    if "ModelApprovalStatus" in path:
        return "approval"
    if any(word in path for word in ("ContainerEntrypoint", "ContainerArguments", "AppSpecification")):
        return "command"
    return "other"


def _comparable(step: definition.Step) -> dict[str, Any]:
    """What a step's diff covers: its own body without its name, plus the gate it sits under."""
    body = {key: value for key, value in step.own_json().items() if key != "Name"}
    if step.condition:
        body["Gate"] = f"{step.condition} ({step.branch})"
    return body


def _rewrite(value: Any, names: dict[str, str]) -> Any:
    """``value`` with references to renamed steps (and strings equal to an old name, such as
    the step name in an output S3 path) spelled with the new names."""
    if isinstance(value, dict):
        return {key: _rewrite(item, names) for key, item in value.items()}
    if isinstance(value, list):
        return [_rewrite(item, names) for item in value]
    if isinstance(value, str):
        if value in names:
            return names[value]
        for old, new in names.items():
            if value.startswith(f"Steps.{old}.") or value.startswith(f"Steps.{old}["):
                return f"Steps.{new}{value[len('Steps.') + len(old):]}"
            if value.startswith(f"{old} ("):  # the Gate pseudo-field
                return new + value[len(old):]
    return value


def _leaf_changes(before: dict[str, Any], after: dict[str, Any]) -> list[Change]:
    old, new = flatten(before), flatten(after)
    changes = []
    for path in sorted(set(old) | set(new)):
        if old.get(path, _MISSING) != new.get(path, _MISSING):
            b, a = old.get(path, _MISSING), new.get(path, _MISSING)
            changes.append(Change(categorize(path, b, a), path,
                                  _MISSING if b is _MISSING else show(b), _MISSING if a is _MISSING else show(a)))
    return changes


def _similarity(before: dict[str, Any], after: dict[str, Any]) -> float:
    old = {(p, json.dumps(v, sort_keys=True)) for p, v in flatten(before).items()}
    new = {(p, json.dumps(v, sort_keys=True)) for p, v in flatten(after).items()}
    return len(old & new) / max(len(old | new), 1)


def _renames(removed: list[definition.Step], added: list[definition.Step]) -> dict[str, str]:
    """Old name -> new name for removed/added pairs of one type whose bodies (with renamed
    steps' names abstracted away) are equal or nearly so; best pairs first. Repeats while new
    renames turn up, since renaming a step changes the references of the steps reading it."""
    result: dict[str, str] = {}
    while True:
        scored = []
        for old in removed:
            if old.name in result:
                continue
            for new in added:
                if old.type != new.type or new.name in result.values():
                    continue
                score = _similarity(_rewrite(_comparable(old), {**result, old.name: new.name}), _comparable(new))
                if score >= RENAME_SIMILARITY:
                    scored.append((score, old.name, new.name))
        found = {}
        for _score, old_name, new_name in sorted(scored, key=lambda s: (-s[0], s[1], s[2])):
            if old_name not in found and new_name not in found.values():
                found[old_name] = new_name
        if not found:
            return result
        result.update(found)


def _parameters(before: dict[str, Any], after: dict[str, Any]) -> list[ParameterDiff]:
    def spell(item: dict[str, Any]) -> str:
        default = f", default {show(item['DefaultValue'])}" if "DefaultValue" in item else ""
        return f"{item.get('Type', 'String')}{default}"

    old = {p["Name"]: p for p in before.get("Parameters", [])}
    new = {p["Name"]: p for p in after.get("Parameters", [])}
    diffs = []
    for name in sorted(set(old) | set(new)):
        if name not in old:
            diffs.append(ParameterDiff(name, "added", _MISSING, spell(new[name])))
        elif name not in new:
            diffs.append(ParameterDiff(name, "removed", spell(old[name]), _MISSING))
        elif old[name] != new[name]:
            diffs.append(ParameterDiff(name, "changed", spell(old[name]), spell(new[name])))
    return diffs


def _approval(step: definition.Step, data: dict[str, Any]) -> str | None:
    """The approval status a RegisterModel step gives by default (parameters resolved)."""
    value = step.own_json().get("Arguments", {}).get("ModelApprovalStatus")
    if isinstance(value, dict) and isinstance(value.get("Get"), str) and value["Get"].startswith("Parameters."):
        name = value["Get"][len("Parameters."):]
        value = next((p.get("DefaultValue") for p in data.get("Parameters", []) if p["Name"] == name), None)
    return value if isinstance(value, str) else None


def _risks(diffs: list[StepDiff], before_steps: Mapping[str, definition.Step], after_steps: Mapping[str, definition.Step],
           before: dict[str, Any], after: dict[str, Any]) -> list[Risk]:
    risks: list[Risk] = []
    for diff in diffs:
        if diff.status == "removed" and diff.type in ("Condition", "Fail"):
            guarded = [s.name for s in before_steps.values() if s.condition == diff.name]
            risks.append(Risk("gate", diff.name, f"{diff.type} step removed: a quality gate is gone"
                              + (f" (it guarded {', '.join(guarded)})" if guarded else "")))
        for change in diff.changes:
            where = f"{diff.name} {change.path}"
            if change.category == "role":
                risks.append(Risk("role", where, f"execution role changes: {change.before} -> {change.after}"))
            elif change.category == "kms":
                verb = "removed" if change.after == _MISSING else "added" if change.before == _MISSING else "changed"
                risks.append(Risk("kms", where, f"KMS key {verb}: {change.before} -> {change.after}"))
            elif change.category == "network":
                label = ("network isolation" if "Isolation" in change.path else
                         "inter-container encryption" if "Encryption" in change.path else
                         "subnets" if "Subnets" in change.path else
                         "security groups" if "SecurityGroup" in change.path else "VPC configuration")
                risks.append(Risk("network", where, f"{label} changes: {change.before} -> {change.after}"))
            elif change.category == "gate" and change.before.strip('"').split(" (")[0] in after_steps:
                risks.append(Risk("gate", diff.name, f"runs under a different gate: {change.before} -> {change.after}"))
            elif change.category == "condition" and diff.type == "Condition":
                risks.append(Risk("gate", where, f"gate condition changes: {change.before} -> {change.after}"))
    for name, step in after_steps.items():
        if step.type != "RegisterModel" or _approval(step, after) != "Approved":
            continue
        old_name = next((d.old_name for d in diffs if d.name == name and d.old_name), name)
        old_step = before_steps.get(old_name)
        if old_step is None or _approval(old_step, before) != "Approved":
            risks.append(Risk("approval", name, "models are registered as Approved without manual review "
                              f"(was {_approval(old_step, before) if old_step else 'not registered'})"))
    return risks


def _code_files(manifest: dict[str, Any]) -> dict[str, dict[str, str]]:
    """S3 URI -> {repository path: sha256} of each code artifact in a manifest (as JSON)."""
    result = {}
    for artifact in manifest.get("artifacts", []):
        files = {f["path"]: f["sha256"] for f in artifact.get("files", [])}
        result[artifact["s3_uri"]] = files or {"(generated script)": artifact.get("sha256", "")}
    return result


def _code_note(change: Change, before: dict[str, dict[str, str]], after: dict[str, dict[str, str]]) -> str:
    """Which files make the code hash in ``change`` differ, from the two manifests."""
    old_uris = [u for u in re.findall(r"s3://[^\"\s\\]+", change.before) if u in before]
    new_uris = [u for u in re.findall(r"s3://[^\"\s\\]+", change.after) if u in after]
    if not old_uris or not new_uris:
        return ""
    old = {path: sha for uri in old_uris for path, sha in before[uri].items()}
    new = {path: sha for uri in new_uris for path, sha in after[uri].items()}
    parts = [f"{label}: {', '.join(paths)}" for label, paths in (
        ("changed", sorted(p for p in old.keys() & new.keys() if old[p] != new[p])),
        ("added", sorted(new.keys() - old.keys())), ("removed", sorted(old.keys() - new.keys()))) if paths]
    return "; ".join(parts)


def _manifest(data: dict[str, Any]) -> artifacts.Manifest | None:
    """A manifest's model, for the steps' config models and step classes in the graphs; None
    when there is none or it does not read (an older format): the graphs then do without."""
    try:
        return artifacts.Manifest.from_json(data, where="manifest.json") if data else None
    except SmpipeError:
        return None


def compare(before: dict[str, Any], after: dict[str, Any], *, base: str, head: str,
            settings: list[Change] | None = None,
            manifests: tuple[dict[str, Any], dict[str, Any]] | None = None, environment: str | None = None) -> Plan:
    """The plan from ``before`` to ``after`` (an empty dict stands for "no pipeline"); with
    ``manifests`` (before, after; as JSON) code changes name the files that differ."""
    old_manifest, new_manifest = (_manifest(m) for m in manifests or ({}, {}))
    before_model = definition.from_json(before, old_manifest, where=base)
    after_model = definition.from_json(after, new_manifest, where=head)
    before_steps, after_steps = before_model.steps, after_model.steps
    below = after_model.downstream

    removed = [s for n, s in before_steps.items() if n not in after_steps]
    added = [s for n, s in after_steps.items() if n not in before_steps]
    renames = _renames(removed, added)
    diffs: list[StepDiff] = []
    for name, step in after_steps.items():
        old_name = next((old for old, new in renames.items() if new == name), name)
        old = before_steps.get(old_name)
        if old is None:
            diffs.append(StepDiff(name, step.type, "added", downstream=below(name)))
            continue
        changes = _leaf_changes(_rewrite(_comparable(old), renames), _comparable(step))
        if old_name != name:
            diffs.append(StepDiff(name, step.type, "renamed", old_name, changes, below(name)))
        elif changes:
            diffs.append(StepDiff(name, step.type, "changed", None, changes, below(name)))
    for step in removed:
        if step.name not in renames:
            diffs.append(StepDiff(step.name, step.type, "removed",
                                  downstream=before_model.downstream(step.name)))
    if manifests:
        old_code, new_code = _code_files(manifests[0]), _code_files(manifests[1])
        for diff in diffs:
            for change in diff.changes:
                if change.category == "code":
                    change.note = _code_note(change, old_code, new_code)
    settings = list(settings or [])
    for key in sorted((set(before) | set(after)) - {"Steps", "Parameters"}):
        if before and before.get(key) != after.get(key):
            settings.append(Change("definition", key, show(before.get(key, _MISSING)), show(after.get(key, _MISSING))))
    marks_after = {d.name: d.status for d in diffs if d.status != "removed"}
    marks_before = {(d.old_name or d.name): d.status for d in diffs if d.status in ("removed", "renamed", "changed")}
    risks = _risks(diffs, before_steps, after_steps, before, after)
    risks += [Risk("role", "pipeline", f"pipeline role changes: {c.before} -> {c.after}")
              for c in settings if c.category == "role"]
    return Plan(base=base, head=head, steps=diffs, parameters=_parameters(before, after), settings=settings,
                risks=risks, environment=environment,
                before_graph=drawing.mermaid(before_model, marks_before) if before else "",
                after_graph=drawing.mermaid(after_model, marks_after))


def settings_changes(before: dict[str, Any], after: dict[str, Any]) -> list[Change]:
    """Pipeline settings (from the manifest, or DescribePipeline) that differ; a role change
    is categorized so it is reported as a risk."""
    changes = []
    for key in sorted(set(before) | set(after)):
        if before.get(key) != after.get(key):
            changes.append(Change("role" if key == "role_arn" else "pipeline", key,
                                  show(before.get(key, _MISSING)), show(after.get(key, _MISSING))))
    return changes


# -- sources -----------------------------------------------------------------------------------
def read_current(project: Project) -> tuple[dict[str, Any], dict[str, Any]]:
    """The working-tree definition and manifest as JSON."""
    current = definition.load(project)
    return current.json(), current.manifest.to_json()  # type: ignore[union-attr]


def _ci_base_branch() -> str | None:
    """The PR's target branch when CI names it (CodeBuild webhooks, GitHub Actions)."""
    for variable in ("CODEBUILD_WEBHOOK_BASE_REF", "GITHUB_BASE_REF"):
        branch = os.environ.get(variable, "").removeprefix("refs/heads/")
        if branch:
            return branch
    return None


def _default_base(repo: Any) -> tuple[str, str]:
    """The merge base of HEAD and the PR's target branch (as CI names it, else main or master):
    what the PR changes, not what other merged PRs changed since it branched."""
    import git

    branch = _ci_base_branch()
    candidates = [f"origin/{branch}", branch] if branch else ["main", "master", "origin/main", "origin/master"]
    for candidate in candidates:
        try:
            bases = repo.merge_base(candidate, "HEAD")
        except git.GitCommandError:
            continue
        if bases:
            return bases[0].hexsha, f"merge base with {candidate}"
    if branch:
        raise SmpipeError(f"the PR's target branch {branch!r} is not in this clone, or shares no history with HEAD",
                          where=str(repo.working_tree_dir),
                          hint=f"fetch it first: git fetch origin +refs/heads/{branch}:refs/remotes/origin/{branch} "
                               "(with --unshallow in a shallow clone)")
    raise SmpipeError("no main or master branch to compare with", where=str(repo.working_tree_dir),
                      hint="pass --base <git ref>, e.g. --base origin/develop")


def _head_label(repo: Any, project: Project) -> str:
    """What the plan shows: a PR's head commit in CI, the commit when the render is committed
    as is, else the working tree."""
    sha = repo.head.commit.hexsha[:8]
    trigger = os.environ.get("CODEBUILD_WEBHOOK_TRIGGER", "")
    if trigger.startswith("pr/"):
        return f"PR #{trigger[3:]} ({sha})"
    if not repo.is_dirty(untracked_files=True, path=str(project.output_dir)):
        return f"HEAD ({sha})"
    return "working tree"


def _blob_json(commit: Any, path: str) -> dict[str, Any] | None:
    try:
        blob = commit.tree / path
    except KeyError:
        return None
    return json.loads(blob.data_stream.read().decode("utf-8"))


def against_ref(project: Project, ref: str | None = None) -> Plan:
    """Plan from the definition committed at ``ref`` (default: merge base with main/master)."""
    import git

    current, current_manifest = read_current(project)
    try:
        repo = git.Repo(project.root, search_parent_directories=True)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        raise SmpipeError("not inside a git repository", where=str(project.root),
                          hint="use --deployed to compare with the deployed pipeline") from None
    if ref is None:
        sha, label = _default_base(repo)
    else:
        try:
            sha, label = repo.commit(ref).hexsha, ref
        except (git.BadName, ValueError, git.GitCommandError):
            raise SmpipeError("unknown git ref", where=f"--base {ref}", hint="give a branch, tag or commit") from None
    commit = repo.commit(sha)
    root = Path(repo.working_tree_dir).resolve()
    try:
        before = _blob_json(commit, project.definition_json.resolve().relative_to(root).as_posix()) or {}
        manifest = _blob_json(commit, project.manifest_json.resolve().relative_to(root).as_posix()) or {}
    except ValueError:
        raise SmpipeError(f"the definition at {label} is not valid JSON", where=project.relative(project.definition_json),
                          hint="compare with another --base") from None
    settings = settings_changes(manifest.get("pipeline", {}), current_manifest.get("pipeline", {})) \
        if manifest and current_manifest else []
    return compare(before, current, base=f"{label} ({sha[:8]})", head=_head_label(repo, project),
                   settings=settings, manifests=(manifest, current_manifest), environment=project.environment)


def against_definition(project: Project, path: Path) -> Plan:
    """Plan from any definition JSON file to the working tree: a migration preview against the
    ``pipeline_definition.json`` the original framework writes on every run."""
    before = definition.load_file(Path(path), shown=f"--base-definition {path}",
                                  hint="give the JSON of Pipeline.definition() (the original writes "
                                       "pipeline_definition.json)").json()
    current, _ = read_current(project)
    return compare(before, current, base=str(path), head="working tree", environment=project.environment)


def against_deployed(project: Project) -> Plan:
    """Plan from the pipeline as deployed (DescribePipeline) to the working tree."""
    from smpipe_gen import apply as deploy

    loaded = deploy.load(project)
    deployer = deploy.Deployer(loaded.manifest)
    described = deployer.describe()
    name = loaded.manifest.pipeline.name
    if described is None:
        return compare({}, loaded.definition, base=f"pipeline {name} (not deployed)", head="working tree",
                       environment=project.environment)
    settings = loaded.manifest.pipeline
    deployed_settings = {"role_arn": described.get("RoleArn"),
                         "display_name": described.get("PipelineDisplayName") or name,
                         "description": described.get("PipelineDescription") or None}
    wanted = {"role_arn": settings.role_arn, "display_name": settings.display_name or name,
              "description": settings.description or None}
    deployed = deploy.parse_definition(described.get("PipelineDefinition"))
    if deployed is None:
        raise SmpipeError("the deployed definition is not readable JSON", where=f"pipeline {name}",
                          hint="compare with a git ref instead: --base <ref>")
    return compare(deployed, loaded.definition, base=f"deployed pipeline {name}", head="working tree",
                   settings=settings_changes(deployed_settings, wanted), environment=project.environment)


# -- formatting --------------------------------------------------------------------------------
_SIGNS = {"added": "+", "removed": "-", "changed": "~", "renamed": "→"}


def _step_title(diff: StepDiff) -> str:
    if diff.status == "renamed":
        return f"{diff.old_name} renamed to {diff.name} ({diff.type})"
    return f"{diff.name} ({diff.type})"


def _title(plan: Plan, arrow: str) -> str:
    where = f"environment {plan.environment}: " if plan.environment else ""
    return f"{where}{plan.base} {arrow} {plan.head}"


def format_text(plan: Plan) -> str:
    lines = [f"Plan: {_title(plan, '->')}", plan.summary()]
    if not plan.has_changes:
        return "\n".join(lines) + "\n"
    if plan.risks:
        lines += ["", "Risks:"] + [f"  ! [{r.kind}] {r.where}: {r.message}" for r in plan.risks]
    if plan.steps:
        lines += ["", "Steps:"]
        for diff in plan.steps:
            lines.append(f"  {_SIGNS[diff.status]} {_step_title(diff)}")
            width = max((len(c.category) for c in diff.changes), default=0)
            for change in diff.changes:
                lines.append(f"      {change.category:<{width}}  {change.path}: {_brief(change.before)} -> {_brief(change.after)}")
                if change.note:
                    lines.append(f"      {'':<{width}}  files {change.note}")
            if diff.downstream:
                lines.append(f"      downstream: {', '.join(diff.downstream)}")
    if plan.parameters:
        lines += ["", "Parameters:"] + [f"  {_SIGNS[p.status]} {p.name}: {p.before} -> {p.after}"
                                        if p.status == "changed" else
                                        f"  {_SIGNS[p.status]} {p.name} ({p.after if p.status == 'added' else p.before})"
                                        for p in plan.parameters]
    if plan.settings:
        lines += ["", "Pipeline settings:"] + [f"  ~ {c.path}: {c.before} -> {c.after}" for c in plan.settings]
    return "\n".join(lines) + "\n"


def _brief(text: str) -> str:
    """Code S3 URIs differ only in their content hash: show its first 12 digits."""
    return re.sub(r"/([0-9a-f]{12})[0-9a-f]{20,}/", r"/\1…/", text)


def _md(text: str) -> str:
    return "`" + text.replace("`", "'").replace("|", "\\|") + "`"


def format_markdown(plan: Plan) -> str:
    lines = [f"### smpipe-gen plan: {_title(plan, '→')}", "", f"**{plan.summary()}**"]
    if not plan.has_changes:
        return "\n".join(lines) + "\n"
    if plan.risks:
        lines += ["", "#### ⚠️ Risks", ""] + [f"- **{r.kind}** {_md(r.where)}: {r.message}" for r in plan.risks]
    if plan.steps:
        lines += ["", "#### Steps", ""]
        for diff in plan.steps:
            lines.append(f"- `{_SIGNS[diff.status]}` **{_step_title(diff)}** {diff.status}")
            for change in diff.changes:
                lines.append(f"  - {change.category}: {_md(change.path)}: {_md(_brief(change.before))} → "
                             f"{_md(_brief(change.after))}" + (f" (files {change.note})" if change.note else ""))
            if diff.downstream:
                lines.append(f"  - downstream: {', '.join(diff.downstream)}")
    if plan.parameters:
        lines += ["", "#### Parameters", "", "| | Parameter | Before | After |", "|---|---|---|---|"]
        lines += [f"| {_SIGNS[p.status]} | {p.name} | {_md(p.before)} | {_md(p.after)} |" for p in plan.parameters]
    if plan.settings:
        lines += ["", "#### Pipeline settings", ""]
        lines += [f"- {_md(c.path)}: {_md(c.before)} → {_md(c.after)}" for c in plan.settings]
    for title, graph in (("Before", plan.before_graph), ("After", plan.after_graph)):
        if graph:
            lines += ["", f"<details><summary>{title}</summary>", "", "```mermaid", graph.rstrip(), "```", "",
                      "</details>"]
    return "\n".join(lines) + "\n"


def _json_data(plan: Plan) -> dict[str, Any]:
    data = asdict(plan)
    data["summary"] = plan.summary()
    data["has_changes"] = plan.has_changes
    data["counts"] = plan.counts()
    return data


def format_json(plan: Plan) -> str:
    return artifacts.canonical_json(_json_data(plan))


def format_plans(plans: list[Plan], output_format: str) -> str:
    """One plan as before; several (one per environment) as one section each, or for JSON a
    list of plan objects."""
    if output_format == "json":
        return format_json(plans[0]) if len(plans) == 1 and plans[0].environment is None \
            else artifacts.canonical_json([_json_data(plan) for plan in plans])
    one = format_markdown if output_format == "markdown" else format_text
    return "\n".join(one(plan) for plan in plans)
