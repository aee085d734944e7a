"""RegisterModel steps: a local model registry under the run root. Each package group holds
versions 1, 2, ... with approval status, the container spec and copies of the model metrics."""

from __future__ import annotations

import shutil
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from smpipe_gen import canonical
from smpipe_gen.local.endpoint import ACCOUNT
from smpipe_gen.local.jobs import JobContext, StepResult, read_state
from smpipe_gen.local.store import as_s3_uri, warn_damaged


def _metric_sources(metrics: dict[str, Any], prefix: str = "") -> dict[str, str]:
    """{"ModelQuality.Statistics": s3 uri, ...} from a resolved ModelMetrics block."""
    found: dict[str, str] = {}
    for key, value in (metrics or {}).items():
        if isinstance(value, dict):
            if isinstance(value.get("S3Uri"), str):
                found[prefix + key] = value["S3Uri"]
            else:
                found.update(_metric_sources(value, f"{prefix}{key}."))
    return found


def register(registry: Path, group: str, package: dict[str, Any], metric_files: dict[str, Path]) -> int:
    """Add a version to a package group; ``mkdir`` claims the number, so concurrent
    registrations (threads or processes) never share one. Returns the version."""
    group_dir = Path(registry) / group
    if group_dir.exists() and not group_dir.is_dir():
        warn_damaged(group_dir, "registry group", "a file, not a directory")
        group_dir.unlink()
    group_dir.mkdir(parents=True, exist_ok=True)
    version = 1 + max((int(p.name) for p in group_dir.iterdir() if p.name.isdigit()), default=0)
    while True:
        try:
            (group_dir / f".{version}.tmp").mkdir()
            break
        except FileExistsError:
            version += 1
    staging = group_dir / f".{version}.tmp"
    for name, source in metric_files.items():
        shutil.copyfile(source, staging / f"metrics-{name}.json")
    package = {**package, "ModelPackageVersion": version}
    (staging / "package.json").write_text(canonical.canonical_json(package), encoding="utf-8")
    staging.rename(group_dir / str(version))
    return version


def list_versions(registry: Path, group: str) -> list[dict[str, Any]]:
    """The group's packages in version order; a damaged version is left out (with a warning)."""
    group_dir = Path(registry) / group
    versions = sorted((int(p.name) for p in group_dir.iterdir() if p.name.isdigit()) if group_dir.is_dir() else [])
    packages = (read_state(group_dir / str(v) / "package.json", "registry entry") for v in versions)
    return [package for package in packages if package is not None]


def run(ctx: JobContext) -> StepResult:
    args = ctx.arguments
    group = args.get("ModelPackageGroupName") or ctx.name
    metric_files: dict[str, Path] = {}
    for name, uri in _metric_sources(args.get("ModelMetrics", {})).items():
        objects = ctx.store.objects(uri)
        if len(objects) != 1:
            ctx.say(f"warning: model metric {name} at {uri} not found; not copied")
            continue
        metric_files[name] = next(iter(objects.values()))
    for container in args.get("InferenceSpecification", {}).get("Containers", []):
        url = as_s3_uri(container.get("ModelDataUrl"))  # CreateModelPackage takes an https URL too
        if isinstance(url, str) and not ctx.store.objects(url):
            ctx.say(f"warning: model data {url} is not in the local store")
    package = {**args, "ModelPackageGroupName": group,
               "ModelApprovalStatus": args.get("ModelApprovalStatus", "PendingManualApproval"),
               "PipelineExecutionId": ctx.execution_id, "Step": ctx.name,
               "CreationTime": datetime.now(timezone.utc).isoformat()}
    version = register(ctx.run_root / "registry", group, package, metric_files)
    arn = f"arn:aws:sagemaker:{ctx.region}:{ACCOUNT}:model-package/{group}/{version}"
    ctx.say(f"registered {group} version {version} ({package['ModelApprovalStatus']})")
    return StepResult(properties={**args, "ModelPackageArn": arn, "ModelPackageVersion": version})
