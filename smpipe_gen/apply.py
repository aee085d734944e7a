"""Upsert exactly the reviewed definition to SageMaker with boto3 (never the SageMaker SDK).

Order matters for convergence: code objects go up first, then the pipeline is created or
updated, then the tags are written. A run that stops part way leaves the deployed definition
different from the committed one, so the next run sees the difference and finishes the job.
Endpoints come from the standard ``AWS_ENDPOINT_URL`` variables (tests point them at moto).
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable
from urllib.parse import urlparse

from smpipe_gen import __version__, definition, digests, seal, tarballs
from smpipe_gen.manifest import CodeArtifact, Manifest, PipelineSettings
from smpipe_gen.errors import NotFound, SmpipeError
from smpipe_gen.json_values import as_text
from smpipe_gen.parameters import parse_assignments, typed_overrides
from smpipe_gen.paths import inside
from smpipe_gen.project import Project

INLINE_DEFINITION_LIMIT = 100 * 1024  # bytes; larger definitions go through S3
DIGEST_METADATA = "smpipe-sha256"  # S3 object metadata key holding an artifact's content digest
TAG_COMMIT = "smpipe-gen:git-commit"
TAG_DEFINITION = "smpipe-gen:definition-sha256"
TAG_VERSION = "smpipe-gen:version"
TAG_ENVIRONMENT = "smpipe-gen:environment"
TAG_USER_KEYS = "smpipe-gen:user-tag-keys"  # the config's tags last applied, so removed ones go too
TERMINAL_STATUSES = ("Succeeded", "Failed", "Stopped")
UPLOAD_WORKERS = 8


@dataclass
class Loaded:
    """The committed artifacts apply works from."""

    project: Project
    manifest: Manifest
    definition_text: str
    definition: dict[str, Any]

    @property
    def definition_sha256(self) -> str:
        return digests.text_digest(self.definition_text)


@dataclass
class Outcome:
    action: str  # "created", "updated", "unchanged", or "would create"/"would update" on dry run
    pipeline_arn: str | None = None
    uploaded: list[str] = field(default_factory=list)
    present: list[str] = field(default_factory=list)
    changes: list[str] = field(default_factory=list)
    definition_s3_uri: str | None = None


def load(project: Project) -> Loaded:
    """The committed definition and manifest, refused when either was edited after render."""
    model = definition.load(project)  # a rendered definition: manifest and text are always set
    seal.verify_seal(model.manifest, model.text, where=project.relative(project.manifest_json))
    return Loaded(project, model.manifest, model.text, model.json())


def ensure_fresh(project: Project) -> None:
    """Run ``check`` in a child process: it imports the SDK to re-render, apply must not."""
    command = [sys.executable, "-m", "smpipe_gen", "check", "-C", str(project.root),
               "--out", str(project.renders_dir)]
    if project.environment:
        command += ["--environment", project.environment]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode == 0:
        return
    where = project.relative(project.definition_json)
    if done.returncode == 2:
        raise SmpipeError("the committed definition is stale: rendering the config gives a different one",
                          where=where, hint="run `smpipe-gen render`, review the diff and commit it")
    detail = (done.stderr.strip().splitlines() or ["check failed"])[-1].removeprefix("error: ")
    detail, _, hint = detail.partition(" (hint: ")  # keep check's own hint, once
    raise SmpipeError(f"cannot verify the definition is current: check says {detail}", where=where,
                      hint=hint.removesuffix(")") or "run `smpipe-gen check` and fix what it reports")


def verify_sources(loaded: Loaded) -> None:
    """Every code artifact goes to the pipeline's bucket, and every repository file it packs lies
    inside the repository (symlinks resolved) and still has the digest the render saw."""
    root = loaded.project.root
    bucket = loaded.manifest.pipeline.bucket
    for artifact in loaded.manifest.artifacts:
        if split_s3_uri(artifact.s3_uri)[0] != bucket:
            raise SmpipeError(f"code artifact is not in the pipeline's bucket {bucket}", where=artifact.s3_uri,
                              hint="render uploads code to the pipeline's bucket only; re-render with `smpipe-gen render`")
        if artifact.kind == "inline":
            if digests.text_digest(artifact.content or "") != artifact.sha256:
                raise SmpipeError("inline code content does not match its digest", where=artifact.s3_uri,
                                  hint="re-render with `smpipe-gen render`")
            continue
        for item in artifact.files:
            path = inside(root, item.path, where=item.path, what="code file",
                          hint="a code artifact packs repository files only; re-render with `smpipe-gen render`")
            if not path.is_file():
                raise SmpipeError(f"code file is missing (needed by {artifact.s3_uri})", where=item.path,
                                  hint="restore it or re-render with `smpipe-gen render`")
            if digests.sha256_file(path) != item.sha256:
                raise SmpipeError(f"code file changed since the render (needed by {artifact.s3_uri})",
                                  where=item.path, hint="run `smpipe-gen render` and commit the result")


def artifact_bytes(artifact: CodeArtifact, root: Path) -> bytes:
    if artifact.kind == "inline":
        return (artifact.content or "").encode()
    if artifact.kind == "file":
        return (root / artifact.files[0].path).read_bytes()
    with tempfile.TemporaryDirectory(prefix="smpipe-apply-") as tmp:
        return tarballs.write_sourcedir_tarball(artifact, root, Path(tmp) / "sourcedir.tar.gz").read_bytes()


def split_s3_uri(uri: str) -> tuple[str, str]:
    parsed = urlparse(uri)
    if parsed.scheme != "s3" or not parsed.netloc or not parsed.path.strip("/"):
        raise SmpipeError("not an S3 object URI", where=uri, hint="expected s3://bucket/key")
    return parsed.netloc, parsed.path.lstrip("/")


def git_commit(root: Path) -> str:
    """The commit being applied, "+dirty" when the working tree differs; outside git (a CodeBuild
    source without .git) the commit CodeBuild resolved, else "unknown"."""
    import os

    import git

    try:
        repo = git.Repo(root, search_parent_directories=True)
        sha = repo.head.commit.hexsha
    except (git.InvalidGitRepositoryError, git.NoSuchPathError, ValueError):
        return os.environ.get("CODEBUILD_RESOLVED_SOURCE_VERSION") or "unknown"
    return sha + ("+dirty" if repo.is_dirty(untracked_files=False) else "")


class Deployer:
    """boto3 clients for one manifest's account and region, with botocore's standard retries.

    ``assume_role``: a deploy role (usually in the environment's own account) to assume with STS
    first, so one CI identity can reach every environment's account."""

    def __init__(self, manifest: Manifest, echo: Callable[[str], None] = print, assume_role: str | None = None):
        import boto3
        from botocore.config import Config

        self.manifest = manifest
        self.settings = manifest.pipeline
        self.echo = echo
        config = Config(retries={"mode": "standard", "max_attempts": 5}, connect_timeout=10, read_timeout=60)
        session = boto3.session.Session(region_name=self.settings.region)
        if assume_role:
            session = self._assumed(session, assume_role, config)
        self.sagemaker = session.client("sagemaker", config=config)
        self.s3 = session.client("s3", config=config)
        self.sts = session.client("sts", config=config)
        # Step progress is best effort: one attempt, so an endpoint without it costs no backoff.
        self.progress = session.client("sagemaker", config=config.merge(Config(retries={"mode": "standard",
                                                                                          "max_attempts": 1})))

    def _assumed(self, session: Any, role_arn: str, config: Any) -> Any:
        import boto3

        from smpipe_gen.config.values import problem

        why = problem("SMP_ROLE", role_arn)
        if why:
            raise SmpipeError(f"the role to assume {why}", where=f"--assume-role {role_arn}",
                              hint="pass the deploy role's ARN")
        name = f"smpipe-gen-{self.settings.environment or 'apply'}"[:64]
        credentials = self.call("AssumeRole", session.client("sts", config=config).assume_role,
                                RoleArn=role_arn, RoleSessionName=name)["Credentials"]
        self.echo(f"assumed {role_arn}")
        return boto3.session.Session(aws_access_key_id=credentials["AccessKeyId"],
                                     aws_secret_access_key=credentials["SecretAccessKey"],
                                     aws_session_token=credentials["SessionToken"], region_name=self.settings.region)

    def check_account(self) -> None:
        """Refuse to read or write a render's pipeline with another account's credentials (prod's
        render into dev, or dev's plan against prod): the account is the one of the pipeline role
        the render names, in both layouts (with and without environments/)."""
        wanted = render_account(self.settings)
        identity = self.call("GetCallerIdentity", self.sts.get_caller_identity)
        if wanted and identity.get("Account") != wanted:
            where = f"environment {self.settings.environment}" if self.settings.environment \
                else f"pipeline {self.settings.name}"
            raise SmpipeError(f"the credentials are for account {identity.get('Account')}, but this render is for "
                              f"account {wanted}", where=where,
                              hint=f"pass --assume-role with a role in account {wanted} (its deploy role), "
                                   "or run with that account's credentials")

    def encryption(self) -> dict[str, str]:
        """PutObject arguments that encrypt with the configured KMS key (none without one)."""
        key = self.settings.kms_key
        return {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": key} if key else {}

    def call(self, what: str, function: Callable[..., Any], **kwargs: Any) -> Any:
        """One AWS call; failures become one-line errors naming the call and the pipeline."""
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return function(**kwargs)
        except (ClientError, BotoCoreError) as error:
            raise self.error(what, error) from None

    def error(self, what: str, error: Exception) -> SmpipeError:
        from botocore.exceptions import ClientError, NoCredentialsError

        where = f"pipeline {self.settings.name}"
        if isinstance(error, ClientError):
            info = error.response.get("Error", {})
            # AWS says ResourceNotFound; moto says ValidationException "Could not find pipeline".
            missing = info.get("Code") == "ResourceNotFound" or "could not find" in info.get("Message", "").lower()
            return (NotFound if missing else SmpipeError)(
                f"{what} failed: {info.get('Code', 'Error')}: {info.get('Message', '')}".strip(),
                where=where, hint="check credentials, region and permissions; re-running apply is safe")
        if isinstance(error, NoCredentialsError):
            return SmpipeError(f"{what} failed: no AWS credentials", where=where,
                               hint="set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or run with a role")
        return SmpipeError(f"{what} failed: {error}", where=where,
                           hint="check the network, the region and AWS_ENDPOINT_URL; re-running apply is safe")

    # -- reading ---------------------------------------------------------------------------
    def describe(self) -> dict[str, Any] | None:
        """DescribePipeline, or None when there is no such pipeline yet."""
        try:
            return self.call("DescribePipeline", self.sagemaker.describe_pipeline, PipelineName=self.settings.name)
        except NotFound:
            return None

    def tags(self, arn: str) -> dict[str, str]:
        found = self.call("ListTags", self.sagemaker.list_tags, ResourceArn=arn)
        return {tag["Key"]: tag["Value"] for tag in found.get("Tags", [])}

    # -- writing ---------------------------------------------------------------------------
    def upload(self, artifact: CodeArtifact, root: Path, dry_run: bool) -> bool:
        """Put one code object unless an object with the same content digest is there already."""
        from botocore.exceptions import BotoCoreError, ClientError

        bucket, key = split_s3_uri(artifact.s3_uri)
        try:
            head = self.s3.head_object(Bucket=bucket, Key=key)
            if head.get("Metadata", {}).get(DIGEST_METADATA) == artifact.sha256:
                return False
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") not in ("404", "NoSuchKey", "NotFound"):
                raise self.error(f"HeadObject {artifact.s3_uri}", error) from None
        except BotoCoreError as error:
            raise self.error(f"HeadObject {artifact.s3_uri}", error) from None
        if not dry_run:
            self.call(f"PutObject {artifact.s3_uri}", self.s3.put_object, Bucket=bucket, Key=key,
                      Body=artifact_bytes(artifact, root), Metadata={DIGEST_METADATA: artifact.sha256},
                      **self.encryption())
        return True


def connect(manifest: Manifest, *, assume_role: str | None = None,
            echo: Callable[[str], None] = print) -> Deployer:
    """Clients for the render's account, after the account check: the one way apply, delete and
    plan --deployed reach AWS."""
    deployer = Deployer(manifest, echo=echo, assume_role=assume_role)
    deployer.check_account()
    return deployer


def render_account(settings: PipelineSettings) -> str:
    """The AWS account a render is for: the one in its pipeline role's ARN (SMP_ROLE, which
    validate holds to SMP_ACCOUNTID)."""
    parts = settings.role_arn.split(":")
    return parts[4] if len(parts) >= 6 and parts[4].isdigit() else ""


def parse_definition(value: Any) -> dict[str, Any] | None:
    """The deployed definition as data; None when absent or not JSON (moto returns a Python
    repr for definitions given through S3)."""
    if isinstance(value, dict):
        return value
    try:
        parsed = json.loads(value) if isinstance(value, str) else None
    except ValueError:
        return None
    return parsed if isinstance(parsed, dict) else None


def _tracked_tags(loaded: Loaded) -> dict[str, str]:
    """The tags whose difference alone makes apply update the pipeline."""
    settings = loaded.manifest.pipeline
    tags = {**settings.tags, TAG_DEFINITION: loaded.definition_sha256, TAG_USER_KEYS: _user_keys(settings.tags)}
    if settings.environment:
        tags[TAG_ENVIRONMENT] = settings.environment
    return tags


def _desired_tags(loaded: Loaded) -> dict[str, str]:
    return {**_tracked_tags(loaded), TAG_COMMIT: git_commit(loaded.project.root), TAG_VERSION: __version__}


def _user_keys(tags: dict[str, str]) -> str:
    return ",".join(sorted(tags))  # tag keys cannot hold commas


def _stale_user_tags(loaded: Loaded, deployed_tags: dict[str, str]) -> list[str]:
    previous = set(filter(None, deployed_tags.get(TAG_USER_KEYS, "").split(",")))
    return sorted(previous - set(loaded.manifest.pipeline.tags))


_SETTING_LABELS = {"role_arn": "role", "display_name": "display name", "description": "description",
                   "parallelism": "parallelism"}


def settings_compared(settings: PipelineSettings, described: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(deployed, wanted) settings of the pipeline that apply updates, keyed as the manifest names
    them: what apply compares and ``plan --deployed`` shows. An unset display name is the
    pipeline's name, an empty description none; parallelism counts only when configured."""
    deployed = {"role_arn": described.get("RoleArn"),
                "display_name": described.get("PipelineDisplayName") or settings.name,
                "description": described.get("PipelineDescription") or None}
    wanted = {"role_arn": settings.role_arn, "display_name": settings.display_name or settings.name,
              "description": settings.description or None}
    if settings.parallelism is not None:
        deployed["parallelism"] = (described.get("ParallelismConfiguration") or {}).get("MaxParallelExecutionSteps")
        wanted["parallelism"] = settings.parallelism
    return deployed, wanted


def _differences(loaded: Loaded, described: dict[str, Any], tags: dict[str, str]) -> list[str]:
    """What differs between the deployed pipeline and the committed one. The commit and tool
    version tags are bookkeeping: they alone never cause an update."""
    settings = loaded.manifest.pipeline
    changes = []
    deployed = parse_definition(described.get("PipelineDefinition"))
    if deployed is None:  # unreadable: trust the digest tag the last successful apply wrote
        if tags.get(TAG_DEFINITION) != loaded.definition_sha256:
            changes.append("definition")
    elif deployed != loaded.definition:
        changes.append("definition")
    deployed_settings, wanted = settings_compared(settings, described)
    changes += [_SETTING_LABELS[key] for key, value in wanted.items() if deployed_settings[key] != value]
    if any(tags.get(key) != value for key, value in _tracked_tags(loaded).items()) or _stale_user_tags(loaded, tags):
        changes.append("tags")
    return changes


def _pipeline_arguments(loaded: Loaded, deployer: Deployer) -> tuple[dict[str, Any], str | None]:
    """CreatePipeline/UpdatePipeline arguments; a definition too large to send inline is
    uploaded to the bucket first (a dry run stops before this)."""
    settings = loaded.manifest.pipeline
    arguments: dict[str, Any] = {"PipelineName": settings.name, "RoleArn": settings.role_arn,
                                 "PipelineDisplayName": settings.display_name or settings.name}
    if settings.description:
        arguments["PipelineDescription"] = settings.description
    if settings.parallelism is not None:
        arguments["ParallelismConfiguration"] = {"MaxParallelExecutionSteps": settings.parallelism}
    body = loaded.definition_text.encode()
    if len(body) <= INLINE_DEFINITION_LIMIT:
        arguments["PipelineDefinition"] = loaded.definition_text
        return arguments, None
    key = f"{settings.name}/definitions/{loaded.definition_sha256}.json"
    deployer.call(f"PutObject s3://{settings.bucket}/{key}", deployer.s3.put_object, Bucket=settings.bucket,
                  Key=key, Body=body, ContentType="application/json", **deployer.encryption())
    arguments["PipelineDefinitionS3Location"] = {"Bucket": settings.bucket, "ObjectKey": key}
    return arguments, f"s3://{settings.bucket}/{key}"


def apply(loaded: Loaded, deployer: Deployer, *, dry_run: bool = False,
          confirm: Callable[[list[str]], bool] | None = None) -> Outcome:
    """Upload code, then create or update the pipeline, then tag it. ``confirm`` sees the list
    of pending changes and may decline (interactive use)."""
    outcome = Outcome(action="unchanged")
    with ThreadPoolExecutor(max_workers=UPLOAD_WORKERS) as pool:  # S3 round trips dominate
        futures = [(artifact, pool.submit(deployer.upload, artifact, loaded.project.root, dry_run))
                   for artifact in loaded.manifest.artifacts]
        for artifact, future in futures:
            uploaded = future.result()
            (outcome.uploaded if uploaded else outcome.present).append(artifact.s3_uri)
            if uploaded:  # as it happens, so a run that fails later still says what it did
                deployer.echo(f"  {'would upload' if dry_run else 'uploaded'} {artifact.s3_uri}")

    described = deployer.describe()
    deployed_tags: dict[str, str] = {}
    if described is not None:
        outcome.pipeline_arn = described.get("PipelineArn")
        deployed_tags = deployer.tags(outcome.pipeline_arn)
        outcome.changes = _differences(loaded, described, deployed_tags)
        if not outcome.changes:
            return outcome
    else:
        outcome.changes = ["new pipeline"]
    if confirm is not None and not confirm(outcome.changes):
        raise SmpipeError("apply declined", where=f"pipeline {loaded.manifest.pipeline.name}",
                          hint="nothing was changed besides code uploads; pass --yes to skip the question")
    if dry_run:
        outcome.action = "would create" if described is None else "would update"
        return outcome

    arguments, outcome.definition_s3_uri = _pipeline_arguments(loaded, deployer)
    tags = _desired_tags(loaded)
    if described is None:
        created = deployer.call("CreatePipeline", deployer.sagemaker.create_pipeline,
                                Tags=[{"Key": k, "Value": v} for k, v in sorted(tags.items())], **arguments)
        outcome.pipeline_arn, outcome.action = created["PipelineArn"], "created"
        return outcome
    if outcome.changes != ["tags"]:
        deployer.call("UpdatePipeline", deployer.sagemaker.update_pipeline, **arguments)
    deployer.call("AddTags", deployer.sagemaker.add_tags, ResourceArn=outcome.pipeline_arn,
                  Tags=[{"Key": k, "Value": v} for k, v in sorted(tags.items())])
    stale = _stale_user_tags(loaded, deployed_tags)
    if stale:
        deployer.call("DeleteTags", deployer.sagemaker.delete_tags, ResourceArn=outcome.pipeline_arn, TagKeys=stale)
    outcome.action = "updated"
    return outcome


# -- executions ------------------------------------------------------------------------------
def typed_parameters(definition: dict[str, Any], assignments: list[str]) -> list[dict[str, str]]:
    """``NAME=VALUE`` pairs checked against the definition's Parameters, spelled as the API wants."""
    overrides = typed_overrides(definition, parse_assignments(assignments, "--param"))
    return [{"Name": name, "Value": as_text(value)} for name, value in overrides.items()]


def start(deployer: Deployer, parameters: list[dict[str, str]]) -> str:
    arguments: dict[str, Any] = {"PipelineName": deployer.settings.name}
    if parameters:
        arguments["PipelineParameters"] = parameters
    started = deployer.call("StartPipelineExecution", deployer.sagemaker.start_pipeline_execution, **arguments)
    return started["PipelineExecutionArn"]


def wait(deployer: Deployer, execution_arn: str, interval: float = 15.0) -> str:
    """Poll until the execution ends, echoing each step's status as it changes; returns the
    final status. Step listing is best effort (not every endpoint offers it)."""
    from botocore.exceptions import BotoCoreError, ClientError

    seen: dict[str, str] = {}
    list_steps = True
    while True:
        described = deployer.call("DescribePipelineExecution", deployer.sagemaker.describe_pipeline_execution,
                                  PipelineExecutionArn=execution_arn)
        status = described.get("PipelineExecutionStatus", "Unknown")
        if seen.get("") != status:
            seen[""] = status
            deployer.echo(f"execution: {status}")
        if list_steps:
            try:
                listed = deployer.progress.list_pipeline_execution_steps(PipelineExecutionArn=execution_arn,
                                                                          SortOrder="Ascending")
                for step in listed.get("PipelineExecutionSteps", []):
                    name, step_status = step.get("StepName", "?"), step.get("StepStatus", "?")
                    if seen.get(name) != step_status:
                        seen[name] = step_status
                        reason = f" ({step['FailureReason']})" if step.get("FailureReason") else ""
                        deployer.echo(f"  step {name}: {step_status}{reason}")
            except (ClientError, BotoCoreError):
                list_steps = False
        if status in TERMINAL_STATUSES:
            return status
        time.sleep(interval)
