"""A loopback AWS endpoint for one local run: moto's server on 127.0.0.1, holding the run's store.

SDK programs call AWS while they build their pipeline (STS for the account, S3 for the default
bucket and uploads, IAM roles, Lambda functions) and scripts call S3 inside jobs (the Projects
seed's preprocess.py downloads its input with boto3). The program being captured and every job
get ``env()``: ``AWS_ENDPOINT_URL`` naming this endpoint (boto3 sends every call there) and
throwaway keys, never the host's credentials.

Started lazily: the run binds the port when it starts (a socket, no server) and moto's server
(0.4 to 0.5 s to import and start on a 2-core machine) is started only when something connects,
so a run whose jobs never call AWS pays nothing for it. The server is a child process (``python -m
smpipe_gen.local.endpoint FD``) serving on the inherited listening socket: the connection that
woke it waits in the socket's backlog until the server accepts it.

The server holds the same objects as the local store (seeds, the run root's ``s3/``): each S3
request first loads from the store what it reads, lists, copies or deletes (so the server starts
at once whatever the store holds), and after each step the runner has it write into the store
every object a client created, changed or deleted. So what a job writes with boto3 is what the
next step reads, and the reverse.
"""

from __future__ import annotations

import functools
import json
import os
import re
import select
import socket
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

from smpipe_gen.paths import write_atomic

ACCOUNT = "000000000000"  # the account of the ARNs a local run makes up, and of the endpoint's
ROLE = f"arn:aws:iam::{ACCOUNT}:role/smpipe-local"  # get_execution_role() while a program builds
_KEYS = {"AWS_ACCESS_KEY_ID": "smpipe-local", "AWS_SECRET_ACCESS_KEY": "smpipe-local"}  # throwaway


class Endpoint:
    """The runner's side: the bound port, the lazily started server, the requests it answers."""

    def __init__(self, region: str, log: Path):
        self.region = region
        self.log = Path(log)
        self.failure: str | None = None
        self._socket = socket.create_server(("127.0.0.1", 0), backlog=128)
        self.url = f"http://127.0.0.1:{self._socket.getsockname()[1]}"
        self._lock = threading.Lock()
        self._process: subprocess.Popen | None = None
        self._holding: dict[str, Any] = {"root": None, "seeds": {}, "models": {}}
        self._wake_read, self._wake_write = os.pipe()
        self._watcher = threading.Thread(target=self._watch, name="smpipe-endpoint", daemon=True)
        self._watcher.start()

    def env(self) -> dict[str, str]:
        """What a process needs to send its AWS calls here: the endpoint, throwaway keys, the region."""
        return {"AWS_ENDPOINT_URL": self.url, **_KEYS, "AWS_DEFAULT_REGION": self.region, "AWS_REGION": self.region}

    @property
    def started(self) -> bool:
        return self._process is not None

    def hold(self, root: Path, seeds: dict[str, Path]) -> None:
        """Serve the local store at ``root`` with its ``seeds`` (s3:// URI -> local file or directory)."""
        with self._lock:
            self._holding.update(root=str(root), seeds={uri: str(path) for uri, path in seeds.items()})
            if self._process is not None:
                self._request({"op": "hold", **self._holding})

    def create_model(self, name: str, arguments: dict[str, Any]) -> None:
        """Make a model a Model step created known to the endpoint's SageMaker, as it would be in
        the cloud: a later job or Lambda function may describe or deploy it (AWS's Lambda-step
        notebook creates an endpoint config from it). Held until the server starts, if it has not."""
        with self._lock:
            self._holding["models"][name] = arguments
            if self._process is not None:
                self._request({"op": "models", "models": {name: arguments}})

    def start(self) -> None:
        """Start the server now (a program about to build certainly calls AWS)."""
        with self._lock:
            if self._process is None and self.failure is None:
                self._spawn()

    def sync(self) -> list[str]:
        """After a step: write into the store what clients wrote or deleted through the endpoint
        (what the store holds is loaded when a request asks for it); returns lines for the step
        log (none while the server has not started)."""
        with self._lock:
            if self._process is None:
                return []
            reply = self._request({"op": "sync"})
        return _notes(reply, self.failure)

    def dump(self, into: Path) -> list[str]:
        """Write every object a client put through the endpoint under ``into`` (``bucket/key``):
        the uploads of a program being captured, whichever session made them."""
        with self._lock:
            if self._process is None:
                return []
            reply = self._request({"op": "dump", "into": str(into)})
        return reply.get("written", [])

    def functions(self, into: Path) -> list[str]:
        """Write every Lambda function a client created or updated here, as Lambda received it:
        ``into/<region>/<name>/function.json`` (its configuration) and ``code.zip`` (issue 21:
        the functions a captured program's Lambda steps invoke, local/jobs/lambda_function.py)."""
        with self._lock:
            if self._process is None:
                return []
            reply = self._request({"op": "functions", "into": str(into)})
        return reply.get("functions", [])

    def close(self) -> None:
        os.write(self._wake_write, b"x")
        self._watcher.join()
        with self._lock:
            process, self._process = self._process, None
        if process is not None:
            process.stdin.close()  # the server exits at the end of its requests
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            process.stdout.close()
        self._socket.close()
        os.close(self._wake_read)
        os.close(self._wake_write)

    def _watch(self) -> None:
        """Wait for the first connection (or close), then start the server to accept it."""
        ready, _, _ = select.select([self._socket, self._wake_read], [], [])
        if self._socket in ready:
            self.start()

    def _spawn(self) -> None:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env.update({**self.env(), "AWS_EC2_METADATA_DISABLED": "true", "MOTO_ACCOUNT_ID": ACCOUNT,
                    "MOTO_IAM_LOAD_MANAGED_POLICIES": "true"})  # programs attach AWS managed policies to roles
        fd = self._socket.fileno()
        with open(self.log, "wb") as log:
            self._process = subprocess.Popen(
                [sys.executable, "-m", "smpipe_gen.local.endpoint", str(fd)], stdin=subprocess.PIPE,
                stdout=subprocess.PIPE, stderr=log, pass_fds=(fd,), env=env, start_new_session=True)
        self._request({"op": "hold", **self._holding})

    def _request(self, request: dict[str, Any]) -> dict[str, Any]:
        """One request to the server and its reply (caller holds _lock); a server that died is
        recorded in ``failure`` once, with the last line of its log."""
        if self.failure is not None:
            return {}
        try:
            self._process.stdin.write(json.dumps(request).encode() + b"\n")
            self._process.stdin.flush()
            line = self._process.stdout.readline()
        except OSError:
            line = b""
        if line:
            return json.loads(line)
        self._process.wait()
        try:  # nobody accepts any more: connections are refused instead of waiting (shutdown, as the
            self._socket.shutdown(socket.SHUT_RDWR)  # watcher's select holds the socket open)
        except OSError:
            pass
        tail = self.log.read_text(errors="replace").strip().splitlines() if self.log.is_file() else []
        self.failure = (f"the loopback AWS endpoint stopped (exit {self._process.returncode}): "
                        f"{tail[-1] if tail else 'no output'}; its log is {self.log}")
        return {}


def _notes(reply: dict[str, Any], failure: str | None) -> list[str]:
    notes = [f"written through the loopback AWS endpoint, now in the local store: {uri}" for uri in reply.get("written", [])]
    notes += [f"deleted through the loopback AWS endpoint: {uri}" for uri in reply.get("removed", [])]
    notes += reply.get("skipped", [])
    return notes + ([failure] if failure else [])


# ---- the server (child process) --------------------------------------------------------------
_S3_REQUEST = re.compile(r"/s3/aws4_request|%2Fs3%2Faws4_request")  # an S3 request's SigV4 credential scope
_LISTING = {"list-type", "prefix", "delimiter", "marker", "continuation-token", "start-after", "max-keys",
            "encoding-type", "fetch-owner", "versions", "key-marker", "version-id-marker"}  # ListObjects(V2), versions


class _Holder:
    """The objects of moto's S3 backend, kept the same as the local store's. Objects are loaded
    when a request needs them (a key read, copied or deleted, a prefix listed), so the server
    starts at once whatever the store holds, and copies only what jobs ask for."""

    def __init__(self, region: str):
        from moto.s3.models import s3_backends

        self.backend = s3_backends[ACCOUNT]["aws"]
        self.region = region
        self.lock = threading.Lock()  # requests load in the server's threads, the runner syncs in the main one
        self.root: Path | None = None
        self.store: Any = None
        self.known: dict[tuple[str, str], str] = {}  # (bucket, key) -> ETag as loaded or written back
        self.sources: dict[tuple[str, str], tuple[str, int, int]] = {}  # -> the file it was loaded from
        self.skipped: list[str] = []

    def handle(self, request: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            if request["op"] == "hold":
                from smpipe_gen.local.store import Store

                self.root = Path(request["root"]) if request["root"] else None
                self.store = Store(self.root or Path(os.devnull), {uri: Path(path) for uri, path in request["seeds"].items()})
                reply = self.create_models(request.get("models", {}))
            elif request["op"] == "models":
                reply = self.create_models(request["models"])
            elif request["op"] == "sync":
                reply = self.write_back(self.root) if self.root else {}
            elif request["op"] == "dump":
                reply = self.write_back(Path(request["into"]))
            elif request["op"] == "functions":
                reply = {"functions": _write_functions(Path(request["into"]))}
            else:
                raise ValueError(f"unknown request {request['op']!r}")
            reply["skipped"], self.skipped = self.skipped, []
            return reply

    def create_models(self, models: dict[str, dict[str, Any]]) -> dict[str, Any]:
        """CreateModel in moto's SageMaker for each model a Model step created (its arguments)."""
        from moto.sagemaker.models import sagemaker_backends

        backend = sagemaker_backends[ACCOUNT][self.region]
        for name, arguments in models.items():
            backend.create_model(model_name=name, execution_role_arn=arguments.get("ExecutionRoleArn") or ROLE,
                                 primary_container=arguments.get("PrimaryContainer"),
                                 vpc_config=arguments.get("VpcConfig"), containers=arguments.get("Containers"),
                                 tags=arguments.get("Tags"))
        return {}

    def before(self, environ: dict[str, Any]) -> None:
        """Load what an S3 request is about to read, copy or delete."""
        from urllib.parse import parse_qs, unquote

        path = environ.get("PATH_INFO", "").encode("latin-1").decode("utf-8", "replace")
        bucket, _, key = path.lstrip("/").partition("/")
        query = parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)
        with self.lock:
            if not bucket:  # ListBuckets
                for name in self._buckets():
                    self._bucket(name)
            elif key:
                self._bucket(bucket)  # a new key put into a bucket only the store holds
                self._load_key(bucket, key)
            elif "delete" in query:  # DeleteObjects names its keys in the body: load the bucket
                self._load_prefix(bucket, "")
            elif environ.get("REQUEST_METHOD") == "GET" and set(query) <= _LISTING:
                self._load_prefix(bucket, query.get("prefix", [""])[0])
            else:  # the bucket itself (head, location, ...)
                self._bucket(bucket)
            copied = unquote(environ.get("HTTP_X_AMZ_COPY_SOURCE", "")).lstrip("/").split("?")[0]
            if "/" in copied:
                self._load_key(*copied.split("/", 1))

    def _buckets(self) -> set[str]:
        root = self.store.root
        found = {entry.name for entry in os.scandir(root) if entry.is_dir() and not entry.name.startswith(".")} \
            if root.is_dir() else set()
        return found | {uri[len("s3://"):].split("/", 1)[0] for uri in self.store.seeds}

    def _bucket(self, name: str) -> bool:
        """Create bucket ``name`` in the backend if the store has it; whether the backend has it."""
        if name not in self.backend.buckets and name in self._buckets():
            try:
                self.backend.create_bucket(name, self.region)
            except Exception as error:  # moto refuses the name: the bucket stays in the store only
                self.skipped.append(f"not served through the loopback AWS endpoint: s3://{name} "
                                    f"({type(error).__name__}: {error})")
        return name in self.backend.buckets

    def _file(self, bucket: str, key: str) -> Path | None:
        """The store's file for one object: the run root's, else the deepest seed's (Store's order)."""
        if _inside(Path("/"), bucket, key) is None:
            return None
        from smpipe_gen.local.store import seeded_file

        uri = f"s3://{bucket}/{key}"
        local = self.store.path(uri)
        return local if local.is_file() else seeded_file(self.store.seeds, uri)

    def _load_key(self, bucket: str, key: str) -> None:
        found = self._file(bucket, key)
        if found is not None:
            self._put(bucket, key, found)

    def _load_prefix(self, bucket: str, prefix: str) -> None:
        """The store's objects whose keys start with ``prefix`` (all of the folder holding them)."""
        if not self._bucket(bucket):
            return
        folder = prefix if prefix.endswith("/") or not prefix else prefix.rsplit("/", 1)[0] if "/" in prefix else ""
        folder = folder.strip("/")
        if folder and (_inside(Path("/"), bucket, folder) is None or self._file(bucket, folder) is not None):
            self._load_key(bucket, folder)  # an object, not a folder, is named so
            return
        for rel, path in self.store.objects(f"s3://{bucket}/{folder}").items():
            self._put(bucket, f"{folder}/{rel}".lstrip("/"), path)

    def _put(self, bucket: str, key: str, path: Path) -> None:
        stat = path.stat()
        source = (str(path), stat.st_size, stat.st_mtime_ns)
        if self.sources.get((bucket, key)) == source:
            return
        try:
            if bucket not in self.backend.buckets:
                self.backend.create_bucket(bucket, self.region)
            fake = self.backend.put_object(bucket, key, path.read_bytes())
        except Exception as error:  # moto refuses the name: the object stays in the store only
            self.skipped.append(f"not served through the loopback AWS endpoint: s3://{bucket}/{key} "
                                f"({type(error).__name__}: {error})")
            return
        self.known[(bucket, key)], self.sources[(bucket, key)] = fake.etag, source

    def write_back(self, into: Path) -> dict[str, list[str]]:
        """Write what clients created or changed under ``into``; remove what they deleted."""
        from moto.s3.models import FakeKey

        written, present = [], set()
        for name, bucket in list(self.backend.buckets.items()):
            for key, fake in bucket.keys.items():
                if not isinstance(fake, FakeKey):  # a delete marker
                    continue
                present.add((name, key))
                if self.known.get((name, key)) == fake.etag or key.endswith("/"):
                    continue
                if self._write(into, name, key, fake.value):
                    written.append(f"s3://{name}/{key}")
                self.known[(name, key)] = fake.etag  # written or told why not: once
        removed = []
        for name, key in sorted(set(self.known) - present):
            del self.known[(name, key)]
            self.sources.pop((name, key), None)
            target = _inside(into, name, key)
            if target is not None and target.is_file():
                target.unlink()
                removed.append(f"s3://{name}/{key}")
        return {"written": written, "removed": removed}

    def _write(self, into: Path, bucket: str, key: str, data: bytes) -> bool:
        target = _inside(into, bucket, key)
        if target is None:
            self.skipped.append(f"not written to the local store: s3://{bucket}/{key} (a key with an empty, "
                                "'.' or '..' part has no place in a directory)")
            return False
        try:
            write_atomic(target, data)
        except OSError as error:  # a key that is also a "directory" of other keys, or the reverse
            self.skipped.append(f"not written to the local store: s3://{bucket}/{key} ({error.strerror})")
            return False
        return True


class _LoadOnRequest:
    """WSGI middleware: the holder loads what each S3 request needs, then moto answers it."""

    def __init__(self, app, holder: _Holder):
        self.app, self.holder = app, holder

    def __call__(self, environ: dict[str, Any], start_response):
        if _S3_REQUEST.search(environ.get("HTTP_AUTHORIZATION", "") + environ.get("QUERY_STRING", "")):
            self.holder.before(environ)
        gap = _sagemaker_gap(environ.get("HTTP_X_AMZ_TARGET", ""))
        if gap is not None:
            status, body = gap
            data = json.dumps(body).encode()
            start_response(status, [("Content-Type", "application/x-amz-json-1.1"), ("Content-Length", str(len(data)))])
            return [data]
        return self.app(environ, start_response)


# jobs SageMaker would run: moto records them as Completed with nothing run
_JOBS = ("CreateProcessingJob", "CreateTrainingJob", "CreateTransformJob", "CreateHyperParameterTuningJob",
         "CreateAutoMLJob", "CreateAutoMLJobV2", "CreateCompilationJob", "CreateLabelingJob", "CreateEdgePackagingJob",
         "CreateOptimizationJob", "CreateInferenceRecommendationsJob")
_READS = ("Describe", "List", "Get", "Search", "BatchDescribe")


def _sagemaker_gap(target: str) -> tuple[str, dict[str, Any]] | None:
    """AWS's answer to a SageMaker call moto would answer wrongly, or None (moto answers it):
    - a job started outside the pipeline (``DefaultModelMonitor.suggest_baseline()`` while a
      program builds): moto would report it Completed with nothing run, and the program would go
      on with an empty output; it fails at the call instead, naming the job;
    - an action moto lacks (it answers 500, which botocore retries): a read gets what AWS answers
      an account holding nothing of that kind (an empty list; ResourceNotFound where the action
      has that error, as DescribeImageVersion has), any other action an error saying so."""
    service, _, action = target.partition(".")
    if service != "SageMaker" or not action:
        return None
    if action in _JOBS:
        return _error("ValidationException", "a local run runs the pipeline's steps, not a job started outside them")
    if _moto_answers(action):
        return None
    operation = _sagemaker_operations().get(action)
    if operation is None or not action.startswith(_READS):
        return _error("UnknownOperationException", f"{action} is not answered by a local run's AWS endpoint")
    if action.startswith("List"):
        lists = {name: [] for name, shape in operation.output_shape.members.items() if shape.type_name == "list"}
        return "200 OK", lists
    code = "ResourceNotFound" if "ResourceNotFound" in {e.name for e in operation.error_shapes} else "ValidationException"
    return _error(code, "not found: a local run's AWS account holds only what the program and its steps created")


def _error(code: str, message: str) -> tuple[str, dict[str, Any]]:
    return "400 Bad Request", {"__type": code, "message": message}


@functools.cache
def _moto_answers(action: str) -> bool:
    from moto.core.utils import camelcase_to_underscores
    from moto.sagemaker.responses import SageMakerResponse

    return hasattr(SageMakerResponse, camelcase_to_underscores(action))


@functools.cache
def _sagemaker_operations() -> dict[str, Any]:
    """SageMaker's operations as botocore's service model describes them, by name."""
    import botocore.session

    model = botocore.session.get_session().get_service_model("sagemaker")
    return {name: model.operation_model(name) for name in model.operation_names}


def _write_functions(into: Path) -> list[str]:
    """Each Lambda function moto holds (latest version): its configuration and deployment package."""
    from moto.awslambda.models import lambda_backends

    from smpipe_gen.paths import file_name

    written = []
    for region, backend in list(lambda_backends[ACCOUNT].items()):
        for function in backend.list_functions():
            folder = into / file_name(region) / file_name(function.function_name)
            folder.mkdir(parents=True, exist_ok=True)
            if function.code_bytes:  # none for a container image function
                (folder / "code.zip").write_bytes(function.code_bytes)
            config = {key: value for key, value in function.get_configuration().items()
                      if key in ("FunctionName", "FunctionArn", "Handler", "Runtime", "Timeout", "MemorySize", "PackageType")}
            config["Environment"] = dict(function.environment_vars or {})
            (folder / "function.json").write_text(json.dumps(config), encoding="utf-8")
            written.append(config["FunctionArn"])
    return written


def _inside(into: Path, bucket: str, key: str) -> Path | None:
    """Where object ``bucket/key`` lives under ``into``, or None for a key no path can hold."""
    parts = key.split("/")
    if any(part in ("", ".", "..") for part in [bucket, *parts]):
        return None
    return into.joinpath(bucket, *parts)


def serve(fd: int) -> None:
    """Answer the runner's requests on stdin (one JSON line each, one reply line each) and,
    from the first one on, AWS requests on the listening socket ``fd``; exit at stdin's end."""
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
    from werkzeug.serving import make_server

    holder = _Holder(os.environ["AWS_DEFAULT_REGION"])
    server = None
    for line in sys.stdin:
        try:
            reply = holder.handle(json.loads(line))
        except Exception as error:  # the runner shows it in the step log; the server goes on
            import traceback

            traceback.print_exc()
            reply = {"skipped": [f"the loopback AWS endpoint failed to sync the store: {type(error).__name__}: {error}"]}
        if server is None:  # it knows the store now: serve the connections waiting in the backlog
            app = _LoadOnRequest(DomainDispatcherApplication(create_backend_app), holder)
            server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=MotoRequestHandler, fd=fd)
            threading.Thread(target=server.serve_forever, daemon=True).start()
        sys.stdout.write(json.dumps(reply) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    serve(int(sys.argv[1]))
