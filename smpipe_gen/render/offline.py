"""An SDK v2 session that never touches the network.

Everything the SageMaker SDK would upload while building a definition (source tarballs, the
FrameworkProcessor bootstrap script, single code files) is recorded here instead, so render
works without credentials and ``apply`` uploads exactly what was reviewed. Only render imports
this module (and, through it, the SDK).
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import warnings
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

_SDK_CONFIG = """\
SchemaVersion: '1.0'
SageMaker:
  PythonSDK:
    Modules:
      TelemetryOptOut: true
"""

_OFFLINE_ENV = {
    "SAGEMAKER_SUPPRESS_V2_WARNING": "1",
    "AWS_EC2_METADATA_DISABLED": "true",
}

_NOISY_LOGGERS = ("sagemaker", "sagemaker.config", "botocore", "boto3")


@dataclass
class Upload:
    """One object the SDK wanted to put in S3 while building the definition."""

    s3_uri: str
    kind: str  # "file", "sourcedir" (a tarball of files) or "inline" (generated text)
    sources: list[str] = field(default_factory=list)  # paths relative to the repo root
    content: str | None = None  # the text of an "inline" upload


@dataclass
class UploadRecorder:
    """Stands in for boto3's S3 resource: records uploads instead of sending them."""

    root: Path
    uploads: dict[str, Upload] = field(default_factory=dict)
    tar_sources: dict[str, list[str]] = field(default_factory=dict)

    def Object(self, bucket_name: str, key: str) -> "_RecordedObject":  # noqa: N802 (boto3 API)
        return _RecordedObject(self, f"s3://{bucket_name}/{key}")

    def relative(self, path: str) -> str:
        return Path(os.path.relpath(os.path.abspath(path), self.root)).as_posix()


@dataclass
class _RecordedObject:
    recorder: UploadRecorder
    s3_uri: str

    def upload_file(self, filename: str, **_: object) -> None:
        sources = self.recorder.tar_sources.get(os.path.abspath(filename))
        if sources is None:
            upload = Upload(self.s3_uri, "file", [self.recorder.relative(filename)])
        else:
            upload = Upload(self.s3_uri, "sourcedir", sorted(map(self.recorder.relative, sources)))
        self.recorder.uploads[self.s3_uri] = upload

    def put(self, Body: str | bytes, **_: object) -> None:  # noqa: N803 (boto3 API)
        text = Body.decode() if isinstance(Body, bytes) else Body
        self.recorder.uploads[self.s3_uri] = Upload(self.s3_uri, "inline", content=text)


@contextmanager
def offline_sdk(root: Path, default_bucket: str | None = None, user_config: bool = False) -> Iterator[UploadRecorder]:
    """Make the SDK usable offline while the block runs; yields the upload recorder.

    Sets what the SDK reads at import and call time (telemetry opt-out through its defaults
    config, the v2 notice off, no instance metadata), records which files each source tarball
    holds so uploads trace back to repository paths, and quiets the SDK's logging.
    ``default_bucket``: every Session's bucket unless it names its own (the SDK's
    ``DefaultS3Bucket`` setting); ``user_config``: the user's SDK config file still applies on
    top (a program being captured may rely on it), where render reads none.
    """
    recorder = UploadRecorder(root=Path(os.path.abspath(root)))
    with tempfile.TemporaryDirectory(prefix="smpipe-sdk-") as tmp:
        config_file = Path(tmp, "sagemaker-config.yaml")
        session = f"      Session:\n        DefaultS3Bucket: {default_bucket}\n" if default_bucket else ""
        config_file.write_text(_SDK_CONFIG + session)
        env = dict(_OFFLINE_ENV, SAGEMAKER_ADMIN_CONFIG_OVERRIDE=str(config_file))
        if not user_config:
            env["SAGEMAKER_USER_CONFIG_OVERRIDE"] = str(config_file)
        with _environ(env), _quiet_sdk():
            import sagemaker.config.config
            import sagemaker.session
            import sagemaker.utils

            validate_once = _validate_once()
            with _patched(sagemaker.utils, "create_tar_file", _recording_tar(recorder)), \
                    _patched(sagemaker.utils, "validate_sagemaker_config", validate_once), \
                    _patched(sagemaker.config.config, "validate_sagemaker_config", validate_once), \
                    _patched(sagemaker.session, "validate_sagemaker_config", validate_once):
                yield recorder


def pipeline_session(region: str, bucket: str, recorder: UploadRecorder):
    """A PipelineSession bound to ``bucket`` that records uploads and never calls AWS."""
    import boto3
    from sagemaker.workflow.pipeline_context import PipelineSession

    # Placeholder keys: the SDK builds boto clients eagerly, and none is ever called here.
    boto_session = boto3.Session(region_name=region, aws_access_key_id="offline",
                                 aws_secret_access_key="offline")
    session = PipelineSession(boto_session=boto_session, default_bucket=bucket)
    # default_bucket() calls S3 to create the bucket even when a name is given: set it directly.
    session._default_bucket = bucket
    session.s3_resource = recorder
    return session


def _recording_tar(recorder: UploadRecorder):
    import sagemaker.utils

    create_tar_file = sagemaker.utils.create_tar_file

    def recording_create_tar_file(source_files, target=None):
        filename = create_tar_file(source_files, target)
        recorder.tar_sources[os.path.abspath(filename)] = list(source_files)
        return filename

    return recording_create_tar_file


def _validate_once():
    """The SDK validates its defaults config against a JSON Schema (checking the schema itself
    first, ~0.5 s) wherever it reads it: each config file as it loads, each Session, each
    lookup; a render spent over 3 s there. The config is ours and fixed, so each distinct
    content is validated once. Every module that holds its own reference is patched."""
    import sagemaker.config.config

    validate = sagemaker.config.config.validate_sagemaker_config
    seen: set[str] = set()

    def validate_once(config=None):
        key = json.dumps(config, sort_keys=True, default=repr)
        if key not in seen:
            validate(config)
            seen.add(key)

    return validate_once


@contextmanager
def _patched(module, name: str, value) -> Iterator[None]:
    original = getattr(module, name)
    setattr(module, name, value)
    try:
        yield
    finally:
        setattr(module, name, original)


@contextmanager
def _environ(values: dict[str, str]) -> Iterator[None]:
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@contextmanager
def _quiet_sdk() -> Iterator[None]:
    loggers = [logging.getLogger(name) for name in _NOISY_LOGGERS]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        for logger, level in zip(loggers, levels):
            logger.setLevel(level)
