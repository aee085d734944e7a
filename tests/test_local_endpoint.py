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


def client(endpoint: Endpoint, service: str = "s3"):
    import boto3
    from botocore.config import Config

    env = endpoint.env()
    return boto3.client(service, endpoint_url=env["AWS_ENDPOINT_URL"], region_name=env["AWS_DEFAULT_REGION"],
                        aws_access_key_id=env["AWS_ACCESS_KEY_ID"], aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
                        config=Config(retries={"max_attempts": 1}))


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


def test_sagemaker_answers_as_aws_answers_an_account_holding_only_what_the_run_made(tmp_path, store):
    """Found running teams' seed code: DescribeImageVersion (which moto lacks, answering 500) must be
    AWS's ResourceNotFound, which the seed catches to fall back to a public image; a job a program
    starts while it builds (a Model Monitor baseline) must fail at the call, not be "Completed"
    with nothing run; a model a Model step created is known (Endpoint.create_model)."""
    from botocore.exceptions import ClientError

    endpoint = Endpoint("us-east-1", tmp_path / "endpoint.log")
    try:
        endpoint.hold(*store)
        endpoint.create_model("pipelines-x-Create", {"ExecutionRoleArn": "arn:aws:iam::000000000000:role/r",
                                                     "PrimaryContainer": {"Image": "img:1"}})
        sagemaker = client(endpoint, "sagemaker")
        with pytest.raises(sagemaker.exceptions.ResourceNotFound):
            sagemaker.describe_image_version(ImageName="sagemaker-p-123-processingimagebuild")
        assert sagemaker.list_image_versions(ImageName="absent")["ImageVersions"] == []
        with pytest.raises(ClientError, match=r"\(ValidationException\) when calling the CreateProcessingJob operation: "
                                              r"a local run runs the pipeline's steps, not a job started outside them"):
            sagemaker.create_processing_job(
                ProcessingJobName="baseline", RoleArn="arn:aws:iam::000000000000:role/r",
                AppSpecification={"ImageUri": "156813124566.dkr.ecr.us-east-1.amazonaws.com/sagemaker-model-monitor-analyzer"},
                ProcessingResources={"ClusterConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.xlarge",
                                                       "VolumeSizeInGB": 20}})
        with pytest.raises(ClientError, match="UnknownOperationException"):
            sagemaker.create_image(ImageName="mine", RoleArn="arn:aws:iam::000000000000:role/r")
        assert sagemaker.describe_model(ModelName="pipelines-x-Create")["PrimaryContainer"]["Image"] == "img:1"
        with pytest.raises(ClientError, match="Could not find model"):  # moto's answer, as AWS's
            sagemaker.describe_model(ModelName="absent")
    finally:
        endpoint.close()
