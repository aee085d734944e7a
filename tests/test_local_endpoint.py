"""The loopback AWS endpoint (smpipe_gen/local/endpoint.py): a real moto server in a child
process, started by the first connection, holding the same objects as the local store in both
directions; a real boto3 client talks to it as a job would."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from smpipe_gen.local.endpoint import Endpoint


@pytest.fixture
def store(tmp_path: Path) -> tuple[Path, dict[str, Path]]:
    root = tmp_path / "s3"
    (root / "bkt" / "out").mkdir(parents=True)
    (root / "bkt" / "out" / "x.txt").write_text("published earlier")
    (root / "old" / "run").mkdir(parents=True)
    for name in ("a.txt", "b.txt", "c.txt"):
        (root / "old" / "run" / name).write_text(name)
    seed = tmp_path / "seed"
    seed.mkdir()
    (seed / "in.csv").write_text("1,2,3\n")
    return root, {"s3://data/raw": seed}


def client(endpoint: Endpoint):
    import boto3

    env = endpoint.env()
    return boto3.client("s3", endpoint_url=env["AWS_ENDPOINT_URL"], region_name=env["AWS_DEFAULT_REGION"],
                        aws_access_key_id=env["AWS_ACCESS_KEY_ID"], aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"])


def test_the_endpoint_starts_on_the_first_connection_and_holds_the_store_both_ways(tmp_path, store):
    root, seeds = store
    endpoint = Endpoint("us-east-1", tmp_path / "endpoint.log")
    try:
        endpoint.hold(root, seeds)
        assert not endpoint.started and endpoint.sync() == []  # nothing connected: no server
        s3 = client(endpoint)
        assert s3.get_object(Bucket="data", Key="raw/in.csv")["Body"].read() == b"1,2,3\n"  # a seed
        assert endpoint.started
        assert [o["Key"] for o in s3.list_objects_v2(Bucket="bkt")["Contents"]] == ["out/x.txt"]  # the run root
        s3.put_object(Bucket="bkt", Key="new/y.txt", Body=b"from a job")
        s3.delete_object(Bucket="bkt", Key="out/x.txt")
        s3.put_object(Bucket="bkt", Key="up/../../escape.txt", Body=b"no")
        # objects no request has read yet are deleted and copied all the same
        s3.copy_object(Bucket="bkt", Key="copied/c.txt", CopySource={"Bucket": "old", "Key": "run/c.txt"})
        s3.delete_object(Bucket="old", Key="run/a.txt")
        s3.delete_objects(Bucket="old", Delete={"Objects": [{"Key": "run/b.txt"}]})
        (root / "bkt" / "published").mkdir()
        (root / "bkt" / "published" / "z.txt").write_text("a step's output")
        notes = endpoint.sync()
        assert notes == ["written through the loopback AWS endpoint, now in the local store: s3://bkt/new/y.txt",
                         "written through the loopback AWS endpoint, now in the local store: s3://bkt/copied/c.txt",
                         "deleted through the loopback AWS endpoint: s3://bkt/out/x.txt",
                         "deleted through the loopback AWS endpoint: s3://old/run/a.txt",
                         "deleted through the loopback AWS endpoint: s3://old/run/b.txt",
                         "not written to the local store: s3://bkt/up/../../escape.txt (a key with an empty, '.' "
                         "or '..' part has no place in a directory)"]
        assert (root / "bkt" / "new" / "y.txt").read_text() == "from a job"
        assert (root / "bkt" / "copied" / "c.txt").read_text() == "c.txt"
        assert sorted(p.name for p in (root / "old" / "run").iterdir()) == ["c.txt"]
        assert not (root / "bkt" / "out" / "x.txt").exists() and not (tmp_path / "escape.txt").exists()
        assert s3.get_object(Bucket="bkt", Key="published/z.txt")["Body"].read() == b"a step's output"
        assert endpoint.sync() == []  # nothing changed since
    finally:
        endpoint.close()
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", int(endpoint.url.rsplit(":", 1)[1])), timeout=5)


def test_an_endpoint_that_cannot_start_is_reported_and_refuses_connections(tmp_path, store, monkeypatch):
    broken = tmp_path / "broken"
    (broken / "moto").mkdir(parents=True)
    (broken / "moto" / "__init__.py").write_text("raise ImportError('moto is broken here')\n")
    monkeypatch.setenv("PYTHONPATH", str(broken))
    endpoint = Endpoint("us-east-1", tmp_path / "endpoint.log")
    try:
        endpoint.hold(*store)
        endpoint.start()
        assert endpoint.failure.startswith("the loopback AWS endpoint stopped (exit 1): ImportError: moto is broken here")
        assert endpoint.sync() == [endpoint.failure]
        with pytest.raises(OSError):
            socket.create_connection(("127.0.0.1", int(endpoint.url.rsplit(":", 1)[1])), timeout=5)
    finally:
        endpoint.close()
