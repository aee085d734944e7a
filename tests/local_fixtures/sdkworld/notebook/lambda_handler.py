"""The function the notebook creates while it builds (deployed by a later step in the notebooks)."""


def handler(event, context):
    return {"statusCode": 200, "model_name": event.get("model_name")}
