"""Checks for what SageMaker would reject only after merge, run with the rest of validation.

- Image URIs: a processing, training, transform or registry image must be an Amazon ECR image
  (``<12-digit account>.dkr.ecr.<region>.amazonaws.com/<repository>[:tag|@sha256:digest]``)
  in the pipeline's own region: the rendered definition gives no private-registry access, and
  SageMaker pulls ECR images from the job's region only. Placeholders (``xxxxxxxxxxxx``,
  ``refer-transform/docker-to-built-inference-image``) and typographic quotes fail here, but for
  a transform ``image_uri`` that nothing pulls (the model's image is the registry's): a warning.
- AWS-owned images (framework and algorithm containers): AWS publishes each repository under
  one account per region, so a URI with the pipeline's region but another region's account (the
  us-east-1 ``683313688378`` in an eu-west-1 environment) names an image that does not exist.
  The accounts come from the SageMaker SDK's own tables (``sagemaker/image_uri_config/*.json``),
  read as data from the installed package, never imported.
- Instance types: each must be one the SageMaker API accepts for that job type (processing,
  training, transform, endpoint): the enums of botocore's SageMaker service model, read offline
  from the installed botocore (the same one apply talks to the API with).
- Code the container imports: ``SAGEMAKER_PROGRAM`` is imported by the inference toolkit as a
  module name (``importlib.import_module`` after stripping ``.py``), so it must be a dotted name,
  never a path; an entry point whose directories or file name hold a ``.`` cannot become a module
  name at all. A training source directory with setup.py is installed and run with ``python -m``.
Numeric limits (counts, volumes, runtimes, parallelism) are checked by the config model.
"""

from __future__ import annotations

import functools
import importlib.util
import json
import re
import sys
from pathlib import Path
from typing import Any, Iterator

from smpipe_gen.config.model import PipelineSpec
from smpipe_gen.config.values import PLACEHOLDER
from smpipe_gen.errors import SmpipeError, closest

_ECR = re.compile(r"^(?P<account>[^./]+)\.dkr\.ecr(?:-fips)?\.(?P<region>[a-z0-9-]+)\.amazonaws\.com(?:\.cn)?/"
                  r"(?P<repository>[^:@]+)(?::(?P<tag>[^@]+))?(?:@(?P<digest>.+))?$")
_REPOSITORY = re.compile(r"^[a-z0-9]+(?:[._-][a-z0-9]+)*(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)*$")
_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
_DIGEST = re.compile(r"^sha256:[a-f0-9]{64}$")
# Placeholders of image URIs in templates and walkthroughs, besides the general ones of values.py.
_IMAGE_PLACEHOLDER = re.compile(r"[{}]|refer-|docker-to-built|your-", re.IGNORECASE)
_ECR_SHAPE = "<account>.dkr.ecr.<region>.amazonaws.com/<repository>:<tag>"
_INSTANCE_SHAPES = {"processing": "ProcessingInstanceType", "training": "TrainingInstanceType",
                    "transform": "TransformInstanceType", "endpoint": "ProductionVariantInstanceType"}


@functools.lru_cache(maxsize=1)
def instance_types() -> dict[str, frozenset[str]]:
    """Job type -> the instance types the SageMaker API accepts for it (loaded once, ~0.3 s)."""
    from botocore.loaders import Loader

    shapes = Loader().load_service_model("sagemaker", "service-2")["shapes"]
    return {job: frozenset(shapes[shape]["enum"]) for job, shape in _INSTANCE_SHAPES.items()}


def _registries(node: Any) -> Iterator[tuple[str, dict[str, str]]]:
    """(repository, region -> account) of every image entry in one of the SDK's tables."""
    if isinstance(node, dict):
        if isinstance(node.get("repository"), str) and isinstance(node.get("registries"), dict):
            yield node["repository"], node["registries"]
        for item in node.values():
            yield from _registries(item)
    elif isinstance(node, list):
        for item in node:
            yield from _registries(item)


@functools.lru_cache(maxsize=1)
def aws_image_accounts() -> dict[str, dict[str, str]]:
    """Repository -> region -> the AWS account that publishes it there, from the installed
    SageMaker SDK's image tables (about 15 ms; empty when the SDK is not installed)."""
    spec = importlib.util.find_spec("sagemaker")  # finds the package without running it
    if spec is None or not spec.submodule_search_locations:
        return {}
    accounts: dict[str, dict[str, str]] = {}
    for table in sorted(Path(next(iter(spec.submodule_search_locations)), "image_uri_config").glob("*.json")):
        try:
            data = json.loads(table.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        for repository, registries in _registries(data):
            accounts.setdefault(repository, {}).update(
                {region: account for region, account in registries.items() if isinstance(account, str)})
    return accounts


def aws_image_problem(uri: str, region: str, environment: str | None = None) -> tuple[str, str] | None:
    """(what is wrong, the right URI) for an AWS-owned image whose account is another region's."""
    match = _ECR.match(uri)
    published = aws_image_accounts().get(match["repository"]) if match else None
    if not published or match["account"] not in published.values() or published.get(region) == match["account"]:
        return None
    where = f"{region} (environment {environment})" if environment else region
    other = sorted(r for r, account in published.items() if account == match["account"])
    if region not in published:
        return (f"image {uri!r} is AWS's {match['repository']} image of {', '.join(other)}; AWS publishes no "
                f"{match['repository']} image in {where}", "pick an image published in the pipeline's region")
    right = f"{published[region]}.dkr.ecr.{region}.amazonaws.com/{match['repository']}" + \
        (f":{match['tag']}" if match["tag"] else "") + (f"@{match['digest']}" if match["digest"] else "")
    return (f"image {uri!r} uses account {match['account']}, AWS's {match['repository']} account in "
            f"{', '.join(other)}; in {where} AWS publishes it under account {published[region]}, so the job "
            "would fail to pull it",
            f"use {right} (with several environments, write the account as a token each environment file sets)")


def image_problem(uri: str, region: str) -> tuple[str, str] | None:
    """(what is wrong, the fix) for an image URI SageMaker would not pull, or None."""
    if uri != uri.strip() or any(c.isspace() or ord(c) > 127 for c in uri):
        return (f"image URI {uri!r} holds spaces or non-ASCII characters (typographic quotes?)",
                "write the URI plainly, in straight quotes or none")
    match = _ECR.match(uri)
    if match is None and (PLACEHOLDER.search(uri) or _IMAGE_PLACEHOLDER.search(uri)):
        return (f"image {uri!r} is a placeholder, not an image URI",
                f"put the ECR URI of the built image: {_ECR_SHAPE}")
    if match is None and ".dkr.ecr." in uri:
        return (f"image {uri!r} starts like an ECR image URI but is not one (cut short?)",
                f"write the whole URI: {_ECR_SHAPE}")
    if match is None:
        return None  # not ECR, not clearly a placeholder: see foreign_registry
    account, image_region = match["account"], match["region"]
    if not re.fullmatch(r"\d{12}", account):
        return (f"image {uri!r} has account {account!r}, not a 12-digit AWS account id (a placeholder?)",
                "put the account that owns the ECR repository")
    if image_region != region:
        return (f"image {uri!r} is in {image_region}, the pipeline runs in {region}",
                f"SageMaker pulls ECR images from the job's region only: use the {region} repository "
                "(write the region as SMP_REGION)")
    if not _REPOSITORY.match(match["repository"]):
        return (f"image {uri!r} has an invalid repository name {match['repository']!r}",
                "ECR repository names are lowercase letters, digits and . _ - / separators")
    if match["tag"] is not None and not _TAG.match(match["tag"]):
        return f"image {uri!r} has an invalid tag {match['tag']!r}", "tags are up to 128 of A-Z a-z 0-9 _ . -"
    if match["digest"] is not None and not _DIGEST.match(match["digest"]):
        return f"image {uri!r} has an invalid digest", "write @sha256:<64 hex digits>"
    return None


def foreign_registry(uri: str) -> tuple[str, str] | None:
    """A warning for a well-formed image outside ECR: the rendered definition gives SageMaker no
    private-registry access, so such an image fails unless the account mirrors it."""
    if _ECR.match(uri) or image_problem(uri, ""):
        return None
    return (f"image {uri!r} is not in Amazon ECR; SageMaker jobs pull from ECR",
            f"push it to ECR and use {_ECR_SHAPE}")


def instance_problem(instance_type: Any, job: str) -> tuple[str, str] | None:
    """(what is wrong, the fix) for an instance type the API rejects for ``job``, or None.
    Parameter references are left to run time."""
    known = instance_types()
    if not isinstance(instance_type, str) or instance_type in known[job]:
        return None
    close = closest(instance_type, known[job], cutoff=0.8)
    other = [name for name, types in known.items() if instance_type in types]
    hint = f"did you mean {close}?" if close else "see the SageMaker instance types for this job type"
    if other:
        hint = f"it exists for {', '.join(other)} only; " + hint
    return f"instance type {instance_type!r} does not exist for {job} jobs", hint


def module_problem(entry_point: str) -> str | None:
    """Why ``entry_point`` (a file path under the code directory, or a dotted module name)
    cannot be imported as a module name, or None."""
    path = entry_point[:-3] if entry_point.endswith(".py") else entry_point
    parts = path.replace("\\", "/").split("/")
    if entry_point.startswith("/") or any(p in ("", "..") for p in parts):
        return "it is not a relative path inside the code directory"
    if len(parts) > 1 and any("." in p for p in parts):
        return f"{'/'.join(parts)!r} mixes directories and dots"
    if len(parts) == 1 and "." in path and not all(p.isidentifier() for p in path.split(".")):
        return f"{path!r} has a dot that is not a package separator"
    return None


def program_problem(program: str) -> tuple[str, str] | None:
    """SAGEMAKER_PROGRAM given explicitly: the toolkit strips ``.py`` and imports the rest."""
    name = program[:-3] if program.endswith(".py") else program
    if "/" in name or "\\" in name:
        dotted = name.replace("\\", "/").strip("/").replace("/", ".")
        return (f"SAGEMAKER_PROGRAM {program!r} is a path; the inference toolkit imports it as module "
                f"{name!r}, which cannot exist, and the endpoint or transform fails",
                f"set it to the module name {dotted!r}")
    return None


def _sections(spec: PipelineSpec) -> Iterator[tuple[str, str, str, Any]]:
    """(model, section name, job type, section) for every job section of every model."""
    for model, config in spec.models.items():
        for name, job in (("preprocess", "processing"), ("evaluate", "processing"), ("train", "training"),
                          ("transform", "transform")):
            if getattr(config, name) is not None:
                yield model, name, job, getattr(config, name)
        for name, section in config.extra_sections().items():
            yield model, name, "processing", section


def _registry_image(config: Any) -> str | None:
    inference = config.registry.InferenceSpecification if config.registry else None
    return inference.image_uri if inference else None


def _get(section: Any, key: str) -> Any:
    return section.get(key) if isinstance(section, dict) else getattr(section, key, None)


def _has_setup_py(root: Path, source_directory: str) -> bool:
    """Whether the training toolkit installs the code as a package; False for a directory the file
    system cannot name (a 300-character name: the path checks report it, once)."""
    try:
        return (Path(root) / source_directory / "setup.py").is_file()
    except OSError:
        return False


def check(spec: PipelineSpec, sources: Any, root: Path) -> list[SmpipeError]:
    """Every cloud-only failure found in the config, one error each; doubtful images are
    warned about on stderr (one line each) and do not fail validation."""
    region = spec.settings.region
    errors: list[SmpipeError] = []

    def fail(problem: tuple[str, str] | None, where: str) -> None:
        if problem:
            errors.append(SmpipeError(problem[0], where=where, hint=problem[1]))

    def warn(problem: tuple[str, str] | None, where: str) -> None:
        if problem:
            print(f"warning: {SmpipeError(problem[0], where=where, hint=problem[1])}", file=sys.stderr)

    def image(uri: str, where: str) -> None:
        fail(image_problem(uri, region) or aws_image_problem(uri, region, spec.settings.environment), where)
        warn(foreign_registry(uri), where)

    for model, name, job, section in _sections(spec):
        for key in ("image_uri", "base_image_uri"):
            uri = _get(section, key)
            if not isinstance(uri, str):
                continue
            if name == "transform" and key == "image_uri" and _registry_image(spec.models[model]):
                # the transform job serves the model, whose image is the registry's (as in the
                # original, whose lgbm example leaves a placeholder here): nothing pulls this one
                problem = image_problem(uri, region) or aws_image_problem(uri, region) or foreign_registry(uri)
                warn(problem and (f"{problem[0]}; it is not used: the model's image is "
                                  "registry.InferenceSpecification.image_uri", "remove it or fix it"),
                     sources.model_where(model, name, key))
                continue
            image(uri, sources.model_where(model, name, key))
        fail(instance_problem(_get(section, "instance_type"), job), sources.model_where(model, name, "instance_type"))
        entry = _get(section, "entry_point")
        runs_as_module = name == "transform" or (name == "train" and _has_setup_py(root, spec.models[model].source_directory))
        if isinstance(entry, str) and runs_as_module and module_problem(entry):
            fail((f"entry point {entry!r} cannot be imported as a module name: {module_problem(entry)}",
                  "the container imports it by module name: rename the file or directories "
                  "(no dots except the .py suffix)"), sources.model_where(model, name, "entry_point"))
        program = (_get(section, "env") or {}).get("SAGEMAKER_PROGRAM")
        if isinstance(program, str):
            fail(program_problem(program), sources.model_where(model, name, "env", "SAGEMAKER_PROGRAM"))
    for model, config in spec.models.items():
        inference = config.registry.InferenceSpecification if config.registry else None
        if inference is None:
            continue
        keys = ("registry", "InferenceSpecification")
        if inference.image_uri:
            image(inference.image_uri, sources.model_where(model, *keys, "image_uri"))
        for field, job in (("SupportedTransformInstanceTypes", "transform"),
                           ("SupportedRealtimeInferenceInstanceType", "endpoint")):
            for index, instance_type in enumerate(getattr(inference, field)):
                fail(instance_problem(instance_type, job), sources.model_where(model, *keys, field, index))
    return errors
