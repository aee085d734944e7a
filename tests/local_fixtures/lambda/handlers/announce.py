"""Echoes its event back as one string output, with what Lambda's context tells the handler."""
import json
import os


def handler(event, context):
    seen = {"event": event, "function": context.function_name, "arn": context.invoked_function_arn,
            "request": bool(context.aws_request_id), "env_name": os.environ["AWS_LAMBDA_FUNCTION_NAME"]}
    return {"message": json.dumps(seen, sort_keys=True)}
