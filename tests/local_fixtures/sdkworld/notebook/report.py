"""Reads what the Stage job put in S3 three ways: listed and downloaded with boto3, downloaded with
the SDK's S3Downloader, and as a processing input (through the runner's store)."""
import argparse
import json
import os
import tarfile

import boto3
from sagemaker.s3 import S3Downloader

parser = argparse.ArgumentParser()
parser.add_argument("--shared")
args = parser.parse_args()
bucket, _, prefix = args.shared[len("s3://"):].partition("/")
s3 = boto3.client("s3")
listed = sorted(item["Key"] for item in s3.list_objects_v2(Bucket=bucket, Prefix=prefix)["Contents"])
s3.download_file(bucket, f"{prefix}/summary.json", "/tmp/summary.json")
downloaded = S3Downloader.download(f"{args.shared}/notes", "/tmp/notes")
with tarfile.open("/opt/ml/processing/model/model.tar.gz") as tar:
    model = json.load(tar.extractfile("model.json"))
os.makedirs("/opt/ml/processing/report", exist_ok=True)
with open("/opt/ml/processing/report/report.json", "w") as target:
    json.dump({"listed": listed, "summary": json.load(open("/tmp/summary.json")),
               "downloaded": [os.path.relpath(p, "/tmp/notes") for p in downloaded],
               "notes": open("/tmp/notes/stage.txt").read(),
               "as_input": sorted(os.listdir("/opt/ml/processing/shared")), "mean": model["mean"]}, target)
