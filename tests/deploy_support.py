"""Shared pieces of the deploy tests: a real moto server on loopback, a fault-injecting HTTP
proxy in front of it, SDK-built projects in git repositories.

Test modules load the fixtures with ``pytest_plugins = ["deploy_support"]`` (registered once,
so the session-scoped SDK render runs once however many modules use it).
"""

from __future__ import annotations

import http.client
import json
import os
import shutil
import socket
import threading
import urllib.request
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import boto3
import git
import pytest

from helpers import built_once

HERE = Path(__file__).resolve().parent
REGION = "us-east-1"
BUCKET = "smpipe-test-bucket"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def aws_env(endpoint: str, tmp: Path) -> dict[str, str]:
    """Environment for a child process that talks to ``endpoint`` only, with fake credentials
    and no user AWS config."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("AWS_")}
    env.update(AWS_ENDPOINT_URL=endpoint, AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing",
               AWS_DEFAULT_REGION=REGION, AWS_CONFIG_FILE=str(tmp / "no-aws-config"),
               AWS_SHARED_CREDENTIALS_FILE=str(tmp / "no-aws-credentials"), AWS_EC2_METADATA_DISABLED="true",
               SAGEMAKER_SUPPRESS_V2_WARNING="1", NO_COLOR="1")
    return env


@pytest.fixture(scope="session")
def moto_endpoint():
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@dataclass
class Aws:
    endpoint: str
    env: dict[str, str]

    def client(self, service: str):
        return boto3.client(service, region_name=REGION, endpoint_url=self.endpoint,
                            aws_access_key_id="testing", aws_secret_access_key="testing")


@pytest.fixture
def aws(moto_endpoint, tmp_path) -> Aws:
    """A clean moto state with the test bucket, and the env to reach it."""
    request = urllib.request.Request(f"{moto_endpoint}/moto-api/reset", method="POST")
    urllib.request.urlopen(request, timeout=10).read()
    handle = Aws(moto_endpoint, aws_env(moto_endpoint, tmp_path))
    handle.client("s3").create_bucket(Bucket=BUCKET)
    return handle


@dataclass
class Fault:
    """Answer requests whose ``X-Amz-Target`` (JSON APIs) or method+path (S3) match ``match``
    with ``status``/``body`` the first ``times`` times (-1: always)."""

    match: str
    status: int
    body: dict
    times: int = 1
    hits: int = 0


@dataclass
class FaultProxy:
    """A loopback HTTP proxy in front of moto that injects faults: real HTTP on both sides."""

    upstream: str
    faults: list[Fault] = field(default_factory=list)
    seen: list[str] = field(default_factory=list)

    def start(self) -> str:
        proxy = self
        host, port = self.upstream.removeprefix("http://").split(":")

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # answers botocore's "Expect: 100-continue" at once

            def log_message(self, *args):  # keep test output clean
                pass

            def _relay(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                key = self.headers.get("X-Amz-Target") or f"{self.command} {self.path.split('?')[0]}"
                proxy.seen.append(key)
                for fault in proxy.faults:
                    if fault.match in key and (fault.times < 0 or fault.hits < fault.times):
                        fault.hits += 1
                        payload = json.dumps(fault.body).encode()
                        self.send_response(fault.status)
                        self.send_header("Content-Type", "application/x-amz-json-1.1")
                        self.send_header("Content-Length", str(len(payload)))
                        self.end_headers()
                        self.wfile.write(payload)
                        return
                connection = http.client.HTTPConnection(host, int(port), timeout=30)
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection", "expect")}
                connection.request(self.command, self.path, body=body, headers=headers)
                response = connection.getresponse()
                data = response.read()
                self.send_response(response.status)
                for name, value in response.getheaders():
                    if name.lower() not in ("transfer-encoding", "connection", "content-length", "server", "date"):
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                connection.close()

            do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = _relay

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def fault_proxy(aws):
    proxy = FaultProxy(aws.endpoint)
    proxy.endpoint = proxy.start()
    yield proxy
    proxy.stop()


# -- projects ----------------------------------------------------------------------------------
def sdk_render(root: Path, variants: dict[str, dict]) -> None:
    """Write SDK-built definitions+manifests of ``variants`` under ``root`` (see
    tests/sdk_pipeline.py) in this process: the test process has the SDK imported already for
    its in-process renders, a child process would import it again."""
    import sdk_pipeline

    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(os.getcwd())  # sdk_pipeline.main moves into root; back afterwards
        patch.setenv("SAGEMAKER_SUPPRESS_V2_WARNING", "1")
        sdk_pipeline.main(str(root), json.dumps(variants))


VARIANTS = {
    "variants/base": {},
    "variants/instance": {"train_instance": "ml.m5.2xlarge"},
    "variants/big": {"padding_steps": 40},
    "variants/tagged": {"tags": {"team": "ml-platform", "cost-center": "42"}},
    "variants/added": {"extra_step": True},
    "variants/renamed": {"preprocess_name": "Prep"},
    "variants/nocondition": {"condition": False},
    "variants/approved": {"approval": "Approved"},
    "variants/newcode": {"train_script": "print('train v2')\n"},  # saved as variants/newcode/train.py
}


@pytest.fixture(scope="session")
def rendered(tmp_path_factory) -> Path:
    """Every SDK-rendered variant under ``variants/`` of one tree with its scripts (one SDK run
    for the whole test run, shared by the xdist workers)."""
    return built_once(tmp_path_factory, "deploy-variants", lambda root: sdk_render(root, VARIANTS))


@pytest.fixture
def project(rendered, tmp_path):
    """A git repository on ``main`` with the base variant rendered into pipeline/ and committed."""
    root = tmp_path / "repo"
    shutil.copytree(rendered, root)
    (root / "pipeline").mkdir()
    use_variant(root, "base")
    (root / ".gitignore").write_text("variants/\n")
    repo = git_repo(root)
    commit_all(repo, "base")
    return root, repo


def git_repo(root: Path) -> git.Repo:
    repo = git.Repo.init(root, initial_branch="main")
    with repo.config_writer() as config:
        config.set_value("user", "name", "smpipe tests")
        config.set_value("user", "email", "tests@example.com")
    return repo


def commit_all(repo: git.Repo, message: str) -> str:
    repo.git.add(A=True)
    repo.index.commit(message)
    return repo.head.commit.hexsha


def use_variant(root: Path, variant: str) -> None:
    """Make ``variant``'s artifacts the rendered ones (``pipeline/``)."""
    for name in ("definition.json", "manifest.json"):
        shutil.copyfile(root / "variants" / variant / name, root / "pipeline" / name)
