"""The function an SDK program creates with sagemaker.lambda_helper.Lambda(script=...)."""
import json


def lambda_handler(event, context):
    accuracy = float(event["accuracy"])
    return {"statusCode": 200, "body": json.dumps(f"checked {event['model_name']}"),
            "approved": accuracy >= float(event["threshold"])}
