"""Keeps the abalone rows whose rings are known, and publishes two objects with boto3 itself (the
output folder is uploaded by the job; these go straight to S3)."""
import argparse
import csv
import json
import os

import boto3

parser = argparse.ArgumentParser()
parser.add_argument("--shared")
args = parser.parse_args()
bucket, _, prefix = args.shared[len("s3://"):].partition("/")
with open("/opt/ml/processing/input/abalone-dataset.csv") as source:
    rows = [row for row in csv.reader(source) if row and row[-1].strip()]
os.makedirs("/opt/ml/processing/clean", exist_ok=True)
with open("/opt/ml/processing/clean/clean.csv", "w", newline="") as target:
    csv.writer(target).writerows([[row[-1], *row[1:-1]] for row in rows])
with open("/tmp/summary.json", "w") as summary:
    json.dump({"rows": len(rows)}, summary)
s3 = boto3.client("s3")
s3.upload_file("/tmp/summary.json", bucket, f"{prefix}/summary.json")
s3.put_object(Bucket=bucket, Key=f"{prefix}/notes/stage.txt", Body=b"staged by boto3")
print(f"staged {len(rows)} rows")
