"""What a plan compares: the project's render (the head) with a base, which is the render
committed at a git ref (by default the merge base with the PR's target branch), the deployed
pipeline (DescribePipeline), or any definition file (the original framework's). Definitions
are read through smpipe_gen.definition only.
"""

from __future__ import annotations

import os
import re
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from smpipe_gen import definition
from smpipe_gen.manifest import Manifest
from smpipe_gen.definition import Definition
from smpipe_gen.errors import SmpipeError
from smpipe_gen.paths import bundle_files
from smpipe_gen.plan.cache import History
from smpipe_gen.plan.diff import compare, settings_changes
from smpipe_gen.plan.model import Plan
from smpipe_gen.project import DEFAULT_OUTPUT_DIR, Project
from smpipe_gen.render import unshipped


def _ci_base_branch() -> str | None:
    """The PR's target branch when CI names it (CodeBuild webhooks, GitHub Actions, the template's
    plan build, which EventBridge starts without webhook variables)."""
    for variable in ("CODEBUILD_WEBHOOK_BASE_REF", "GITHUB_BASE_REF", "SMPIPE_BASE_BRANCH"):
        branch = os.environ.get(variable, "").removeprefix("refs/heads/")
        if branch:
            return branch
    return None


def _ci_pull_request() -> str | None:
    """The PR number CI builds: CodeBuild's webhook trigger or source version (``pr/7``, also
    on a build started by hand for a PR), or GitHub Actions' ``refs/pull/7/merge``."""
    for variable in ("CODEBUILD_WEBHOOK_TRIGGER", "CODEBUILD_SOURCE_VERSION"):
        match = re.fullmatch(r"pr/(\d+)", os.environ.get(variable, ""))
        if match:
            return match[1]
    match = re.fullmatch(r"refs/pull/(\d+)/merge", os.environ.get("GITHUB_REF", ""))
    return match[1] if match else None


def _repo(project: Project) -> Any:
    import git

    try:
        return git.Repo(project.root, search_parent_directories=True)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        return None


def _render_is_committed(repo: Any, project: Project) -> bool:
    """Whether the render files are exactly as HEAD has them (other untracked files, such as
    a __pycache__ left by tests or the plan report CI writes, do not count)."""
    paths = [str(p) for p in (project.definition_json, project.manifest_json, project.pipeline_py)]
    return not repo.git.status("--porcelain", "--untracked-files=all", "--", *paths).strip()


def head_label(project: Project) -> str:
    """What the plan shows as its head: the PR and its commit in CI, the commit when the
    render is committed as is, else the working tree."""
    repo = _repo(project)
    pull_request = _ci_pull_request()
    sha = os.environ.get("CODEBUILD_RESOLVED_SOURCE_VERSION", "")
    if not re.fullmatch(r"[0-9a-f]{7,40}", sha):
        sha = repo.head.commit.hexsha if repo is not None and repo.head.is_valid() else ""
    if pull_request:
        return f"PR #{pull_request} ({sha[:8]})" if sha else f"PR #{pull_request}"
    if repo is not None and sha and _render_is_committed(repo, project):
        return f"HEAD ({sha[:8]})"
    return "working tree"


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


def _blob_json(commit: Any, path: str, where: str) -> Any:
    try:
        blob = commit.tree / path
    except KeyError:
        return None
    try:
        text = blob.data_stream.read().decode("utf-8")
    except ValueError:
        raise SmpipeError("not UTF-8", where=where, hint="compare with another --base") from None
    return definition.parse_json(text, where, "committed file", hint="compare with another --base")


def _base_manifest(data: Any, where: str) -> Manifest | None:
    """The base's manifest, or None when it has none or one this version cannot read (the
    plan then names no files behind code changes and no config step types)."""
    if data is None:
        return None
    try:
        return Manifest.from_json(data, where=where)
    except SmpipeError:
        return None


def unshipped_code(project: Project, head: Definition) -> list[unshipped.Unshipped]:
    """What the code each step of the render ships refers to that its bundle leaves out
    (render/unshipped.py), from the manifest's record of each bundle and the repository now."""
    shipped: dict[str, dict[str, set[str]]] = {}
    for step in head:
        for code in step.code:
            directory = code.artifact.source_directory if code.artifact else None
            if directory is not None:
                shipped.setdefault(directory, {}).setdefault(step.display_name, set()).update(
                    item.path for item in code.artifact.files)
    excluded = [project.root / DEFAULT_OUTPUT_DIR, project.renders_dir]
    return [item for directory, steps in sorted(shipped.items())
            for item in unshipped.find(project.root, directory, bundle_files(project.root, directory, excluded), steps)]


def history_reader(project: Project, *, assume_role: str | None = None, echo: Any = print) -> Any:
    """Clients for the render's account, to read what the deployed pipeline ran (apply.connect:
    another account's pipeline is refused, not read)."""
    from smpipe_gen import apply as deploy

    return deploy.connect(deploy.load(project).manifest, assume_role=assume_role, echo=echo)


def history(head: Definition, reader: Any) -> History:
    """What the deployed pipeline ran, for the cache forecast (read access to SageMaker)."""
    from smpipe_gen.plan.history import read_runs

    now = datetime.now(timezone.utc)
    runs, executions, line = read_runs(reader, head, now)
    return History(runs, executions, line, now)


def _plan(project: Project, before: Definition, head: Definition, base: str, settings: list | None = None,
          reader: Any = None) -> Plan:
    """The plan of the project's render against ``before``, with what the head's code leaves out;
    with a ``reader`` (history_reader), the cache forecast from the executions that ran."""
    result = compare(before, head, base=base, head=head_label(project), settings=settings,
                     environment=project.environment,
                     pipeline_name=head.manifest.pipeline.name if head.manifest else None,
                     history=history(head, reader) if reader is not None else None)
    result.unshipped = unshipped_code(project, head)
    return result


def against_ref(project: Project, ref: str | None = None, reader: Any = None) -> Plan:
    """Plan from the render committed at ``ref`` (default: merge base with the PR's target)."""
    import git

    repo = _repo(project)
    if repo is None:
        raise SmpipeError("not inside a git repository", where=str(project.root),
                          hint="use --deployed to compare with the deployed pipeline")
    current = definition.load(project)
    if ref is None:
        sha, label = _default_base(repo)
    else:
        try:
            sha, label = repo.commit(ref).hexsha, ref
        except (git.BadName, ValueError, git.GitCommandError):
            raise SmpipeError("unknown git ref", where=f"--base {ref}", hint="give a branch, tag or commit") from None
    commit = repo.commit(sha)
    root = Path(repo.working_tree_dir).resolve()
    definition_path = project.definition_json.resolve().relative_to(root).as_posix()
    manifest_path = project.manifest_json.resolve().relative_to(root).as_posix()
    where = f"{definition_path} at {label}"
    data = _blob_json(commit, definition_path, where) or {}
    manifest = _base_manifest(_blob_json(commit, manifest_path, f"{manifest_path} at {label}"), manifest_path)
    before = definition.from_json(data, manifest, where=where)
    settings = settings_changes(manifest.to_json()["pipeline"], current.manifest.to_json()["pipeline"]) \
        if manifest and current.manifest else []
    return _plan(project, before, current, f"{label} ({sha[:8]})", settings, reader)


def against_definition(project: Project, path: Path, reader: Any = None) -> Plan:
    """Plan from any definition JSON file to the render: a migration preview against the
    ``pipeline_definition.json`` the original framework writes on every run."""
    shown = f"--base-definition {path}"
    before = definition.load_file(Path(path), shown=shown,
                                  hint="give a pipeline definition (the original writes pipeline_definition.json)")
    current = definition.load(project)
    return _plan(project, before, current, str(path), reader=reader)


def against_deployed(project: Project, *, assume_role: str | None = None, echo: Any = print) -> Plan:
    """Plan from the pipeline as deployed (DescribePipeline) to the render, read with
    credentials of the render's account (another account's pipeline is refused, not compared);
    the cache forecast from the executions that ran."""
    from smpipe_gen import apply as deploy

    loaded = deploy.load(project)
    current = definition.load(project)
    reader = deploy.connect(loaded.manifest, assume_role=assume_role, echo=echo)
    described = reader.describe()
    name = loaded.manifest.pipeline.name
    if described is None:
        return _plan(project, definition.from_json({}), current, f"pipeline {name} (not deployed)", reader=reader)
    deployed_settings, wanted = deploy.settings_compared(loaded.manifest.pipeline, described)
    deployed = deploy.parse_definition(described.get("PipelineDefinition"))
    if deployed is None:
        raise SmpipeError("the deployed definition is not readable JSON", where=f"pipeline {name}",
                          hint="compare with a git ref instead: --base <ref>")
    before = definition.from_json(deployed, where=f"deployed pipeline {name}")
    return _plan(project, before, current, f"deployed pipeline {name}", settings_changes(deployed_settings, wanted),
                 reader=reader)
