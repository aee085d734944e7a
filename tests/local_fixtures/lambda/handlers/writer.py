"""A handler that calls AWS itself, as the notebooks' functions do (theirs create endpoints)."""
import boto3


def lambda_handler(event, context):
    s3 = boto3.client("s3")
    s3.put_object(Bucket="smpipe-local", Key="verdicts/churn.txt", Body=f"rows {event['rows']}".encode())
    return {"statusCode": 200, "verdict": "written", "score": 1.0, "approved": True}
