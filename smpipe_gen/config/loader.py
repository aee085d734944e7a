"""Find, read and merge the config files of a model repository into one typed PipelineSpec.

Order of precedence for framework values: see config/environment.py; the framework conf
comes last. Model files are found by SMP_MODEL_CONFIGPATH (a path or a glob, relative to the repo
root) and merged in sorted order; exactly one of them (the anchor) holds sagemakerPipeline.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from pydantic import BaseModel, ConfigDict, ValidationError

from smpipe_gen.config.environment import (
    DEFAULT_FRAMEWORK_CONF,
    ENV_FILE,
    ENVIRONMENT_VARIABLE,
    framework_variables,
    split_list,
    substitute,
    undefined_tokens,
)
from smpipe_gen.config.model import (
    NAME_PATTERN,
    NAME_RULE,
    ModelConfig,
    PipelineConfig,
    PipelineSpec,
    Settings,
    known_keys,
)
from smpipe_gen.config.yaml_source import KeyPath, YamlDocument, load_yaml
from smpipe_gen.errors import ConfigErrors, SmpipeError, did_you_mean, shorten
from smpipe_gen.paths import inside


@dataclass
class Sources:
    """Which file (and line) each part of the merged config came from, for error messages."""

    model_docs: dict[str, YamlDocument] = field(default_factory=dict)
    pipeline_doc: YamlDocument | None = None

    def model_where(self, model: str, *keys: str | int) -> str:
        return self.model_docs[model].where(("conf", "models", model) + keys)

    def pipeline_where(self, *keys: str | int) -> str:
        assert self.pipeline_doc is not None
        return self.pipeline_doc.where(("conf", "sagemakerPipeline") + keys)


@dataclass
class LoadedConfig:
    root: Path
    spec: PipelineSpec
    sources: Sources
    variables: dict[str, str]


def _undefined_token(token: str, where: str, environment: str | None) -> SmpipeError:
    """A token no file defines, naming the environment whose file lacks it (dev.env may set what
    prod.env forgot)."""
    if environment:
        return SmpipeError(f"{token} is not defined for environment {environment}", where=where,
                           hint=f"define it in environments/{environment}.env (or in {ENV_FILE}, for every "
                                "environment)")
    return SmpipeError(f"{token} is not defined", where=where,
                       hint=f"define it in {ENV_FILE} (tokens are the SMP_* variables it sets)")


def load_config(root: Path, overrides: Mapping[str, str] | None = None,
                environ: Mapping[str, str] | None = None, environment: str | None = None) -> LoadedConfig:
    """Load and merge (not yet cross-validate: see validate.validate_config). ``environment``
    names ``environments/<name>.env`` in a repository that has environments."""
    root = Path(root).resolve()
    variables = framework_variables(root, os.environ if environ is None else environ, overrides or {}, environment)
    framework = _framework_conf(root, variables)
    errors: list[SmpipeError] = []
    sources = Sources()
    models: dict[str, ModelConfig] = {}
    pipeline: PipelineConfig | None = None
    config_files = [framework[0].path] if framework else []

    for path in _model_files(root, variables["SMP_MODEL_CONFIGPATH"]):
        shown = path.relative_to(root).as_posix()
        doc = load_yaml(path, shown)
        config_files.append(shown)
        for path_, token in undefined_tokens(doc.data, variables):
            errors.append(_undefined_token(token, doc.where(path_), variables.get("SMP_ENVIRONMENT")))
        doc.data = substitute(doc.data, variables)
        conf = _conf_block(doc, allowed=("models", "sagemakerPipeline"), errors=errors)
        for name, section in _models_block(doc, conf, errors).items():
            if not re.fullmatch(NAME_PATTERN, name):
                errors.append(SmpipeError(f"model name {_shorten(name)} is not allowed",
                                          where=doc.where(("conf", "models", name)),
                                          hint=f"use {NAME_RULE}"))
                continue
            if name in sources.model_docs:
                errors.append(SmpipeError(
                    f"model {name!r} is defined twice (also in {sources.model_docs[name].path})",
                    where=doc.where(("conf", "models", name)), hint="rename one of the models"))
                continue
            sources.model_docs[name] = doc
            model = _validated(ModelConfig, section, doc, ("conf", "models", name), errors)
            if model is not None:
                models[name] = model
        if "sagemakerPipeline" in conf:
            if sources.pipeline_doc is not None:
                errors.append(SmpipeError(
                    f"sagemakerPipeline is defined twice (also in {sources.pipeline_doc.path})",
                    where=doc.where(("conf", "sagemakerPipeline")),
                    hint="keep it in one model file, the anchor"))
                continue
            sources.pipeline_doc = doc
            pipeline = _validated(PipelineConfig, conf["sagemakerPipeline"], doc,
                                  ("conf", "sagemakerPipeline"), errors)

    if sources.pipeline_doc is None and not errors:
        errors.append(SmpipeError("no model file defines conf.sagemakerPipeline",
                                  where=variables["SMP_MODEL_CONFIGPATH"],
                                  hint="add a sagemakerPipeline block (pipelineName, models.<m>.steps) to one model file"))
    if errors:
        raise ConfigErrors(errors)
    assert pipeline is not None
    spec = PipelineSpec(settings=_settings(variables, framework[1] if framework else {}),
                        models=models, pipeline=pipeline, config_files=config_files)
    return LoadedConfig(root=root, spec=spec, sources=sources, variables=variables)


def _models_block(doc: YamlDocument, conf: dict[str, Any], errors: list[SmpipeError]) -> dict[str, Any]:
    """``conf.models``: a mapping of model name to sections (or absent)."""
    models = conf.get("models")
    if models is None:
        return {}
    if not isinstance(models, dict):
        errors.append(SmpipeError(f"conf.models must be a mapping of model names, got {type(models).__name__}",
                                  where=doc.where(("conf", "models")),
                                  hint="write 'models:' then one indented '<model-name>:' block per model"))
        return {}
    return models


def _model_files(root: Path, pattern: str) -> list[Path]:
    """The model files SMP_MODEL_CONFIGPATH matches: each must resolve inside the repository."""
    hint = "for example conf/conf.yaml or */conf/conf.yaml"
    where = "SMP_MODEL_CONFIGPATH"
    if Path(pattern).is_absolute() or ".." in Path(pattern).parts:
        raise SmpipeError(f"SMP_MODEL_CONFIGPATH must stay inside the repository, got {shorten(repr(pattern))}",
                          where=where, hint=hint)
    try:
        matches = sorted(p for p in root.glob(pattern) if p.is_file())
    except (OSError, ValueError) as exc:
        raise SmpipeError(f"SMP_MODEL_CONFIGPATH {shorten(repr(pattern))} is not a usable pattern ({exc})",
                          where=where, hint=hint) from None
    if not matches:
        raise SmpipeError(f"no config file matches {shorten(repr(pattern))} under {root}", where=where,
                          hint="point it at your model files, e.g. conf/conf.yaml or */conf/conf.yaml")
    for match in matches:
        inside(root, match.relative_to(root).as_posix(), where=f"{where}={shorten(pattern)}",
               what="config file", hint="a model file must not be a symlink leading out of the repository")
    return matches


class _FrameworkNetwork(BaseModel):
    model_config = ConfigDict(extra="forbid")
    subnets: str | list[str] | None = None
    role: str | None = None
    security_groups_id: str | list[str] | None = None
    kms_key: str | None = None


class _FrameworkModels(BaseModel):
    model_config = ConfigDict(extra="forbid")
    projectName: str | None = None
    modelName: str | None = None


class _FrameworkConf(BaseModel):
    model_config = ConfigDict(extra="forbid")
    applicationName: str | None = None
    # Where the original looks for model files; SMP_MODEL_CONFIGPATH is what both tools read.
    modelConfigFilePath: str | None = None
    s3Bucket: str | None = None
    sagemakerNetworkSecurity: _FrameworkNetwork | None = None
    models: _FrameworkModels | None = None


def _framework_conf(root: Path, variables: Mapping[str, str]) -> tuple[YamlDocument, dict[str, Any]] | None:
    """The optional framework conf.yaml: bucket, network security, project name."""
    shown = variables.get("SMP_FRAMEWORK_CONFPATH") or DEFAULT_FRAMEWORK_CONF
    path = inside(root, shown, where=f"SMP_FRAMEWORK_CONFPATH={shorten(shown)}", what="framework config",
                  hint="give a path relative to the repository root")
    if not path.is_file():
        if variables.get("SMP_FRAMEWORK_CONFPATH"):
            raise SmpipeError("framework config file not found", where=f"SMP_FRAMEWORK_CONFPATH={shown}",
                              hint="fix the path or unset the variable")
        return None
    doc = load_yaml(path, Path(shown).as_posix())
    doc.data = _resolve_named_variables(doc.data, variables)
    errors: list[SmpipeError] = []
    conf = _conf_block(doc, allowed=tuple(_FrameworkConf.model_fields), errors=errors)
    parsed = _validated(_FrameworkConf, conf, doc, ("conf",), errors)
    if errors:
        raise ConfigErrors(errors)
    return doc, parsed.model_dump(exclude_none=True)


def _resolve_named_variables(value: Any, variables: Mapping[str, str]) -> Any:
    """The framework conf names variables outright (``s3Bucket: SMP_S3BUCKETNAME``)."""
    if isinstance(value, dict):
        return {key: _resolve_named_variables(item, variables) for key, item in value.items()}
    if isinstance(value, str) and value.startswith("SMP_"):
        return variables.get(value) or None
    return value


def _settings(variables: Mapping[str, str], framework: dict[str, Any]) -> Settings:
    network = framework.get("sagemakerNetworkSecurity", {})

    def listed(value: Any) -> list[str]:
        return value if isinstance(value, list) else split_list(value)

    return Settings(
        account_id=variables["SMP_ACCOUNTID"],
        region=variables["SMP_REGION"],
        bucket=framework.get("s3Bucket") or variables["SMP_S3BUCKETNAME"],
        role=network.get("role") or variables["SMP_ROLE"],
        subnets=listed(network.get("subnets") or variables.get("SMP_SUBNETS")),
        security_groups=listed(network.get("security_groups_id") or variables.get("SMP_SECURITYGROUPS")),
        kms_key=network.get("kms_key") or variables.get("SMP_KMSKEY") or None,
        project_name=framework.get("models", {}).get("projectName"),
        environment=variables.get(ENVIRONMENT_VARIABLE),
    )


def _conf_block(doc: YamlDocument, allowed: tuple[str, ...], errors: list[SmpipeError]) -> dict[str, Any]:
    data = doc.data
    if not isinstance(data, dict) or not isinstance(data.get("conf"), dict):
        errors.append(SmpipeError("expected a top-level 'conf' mapping", where=doc.where(()),
                                  hint="start the file with 'conf:'"))
        return {}
    for key in data:
        if key != "conf":
            errors.append(_unknown_key(doc, (key,), ("conf",)))
    conf = data["conf"]
    for key in conf:
        if key not in allowed:
            errors.append(_unknown_key(doc, ("conf", key), allowed))
    return {key: value for key, value in conf.items() if key in allowed}


def _unknown_key(doc: YamlDocument, path: KeyPath, candidates: tuple[str, ...] | set[str]) -> SmpipeError:
    key = str(path[-1])
    hint = did_you_mean(key, candidates, "remove it or check the spelling")
    return SmpipeError(f"unknown key {_shorten(key)}", where=doc.where(path), hint=hint)


def _validated(model: type[BaseModel], data: Any, doc: YamlDocument, prefix: KeyPath,
               errors: list[SmpipeError]) -> Any:
    try:
        return model.model_validate(data if data is not None else {})
    except ValidationError as exc:
        errors.extend(_explain(exc, data, doc, prefix))
        return None


def _explain(exc: ValidationError, data: Any, doc: YamlDocument, prefix: KeyPath) -> list[SmpipeError]:
    """One clear line per problem. Union alternatives produce one error each in pydantic;
    keep the first per place, and drop loc parts that name types rather than keys."""
    found: dict[KeyPath, SmpipeError] = {}
    for error in exc.errors():
        path = _data_path(data, error["loc"], missing=error["type"] == "missing")
        if path in found:
            continue
        where = doc.where(prefix + path)
        kind = error["type"]
        if kind == "extra_forbidden":
            found[path] = _unknown_key(doc, prefix + path, known_keys())
        elif kind == "missing":
            found[path] = SmpipeError(f"missing required key {str(error['loc'][-1])!r}", where=where,
                                      hint="add it; see `smpipe-gen schema` for the format")
        else:
            message = error["msg"].removeprefix("Value error, ")
            shown = error.get("input")
            got = f" (got {_shorten(shown)})" if not isinstance(shown, (dict, list)) else ""
            found[path] = SmpipeError(f"{message}{got}", where=where, hint=_hint(kind))
    # A value no union member accepts fails once per member; the deeper errors say why.
    return [error for path, error in found.items()
            if not any(other[:len(path)] == path and len(other) > len(path) for other in found)]


def _shorten(value: Any) -> str:
    """``repr(value)``, shortened for an error line."""
    return shorten(repr(value))


def _data_path(data: Any, loc: tuple[Any, ...], missing: bool) -> KeyPath:
    """Follow ``loc`` through the data to a key path. Parts the data does not have are
    pydantic's union/type tags, except the last part of a "missing" error: the missing key."""
    path: list[str | int] = []
    node = data
    for index, part in enumerate(loc):
        if isinstance(node, dict) and part in node or \
                isinstance(node, list) and isinstance(part, int) and part < len(node):
            path.append(part)
            node = node[part]
        elif missing and index == len(loc) - 1:
            path.append(part)
    return tuple(path)


def _hint(kind: str) -> str:
    if kind.endswith("_type") or kind.endswith("_parsing"):
        return "check the value's type against `smpipe-gen schema`"
    if kind == "literal_error":
        return "use one of the listed values"
    if kind == "string_pattern_mismatch":
        return "use letters, digits and hyphens"
    return "see `smpipe-gen schema` for the format"
