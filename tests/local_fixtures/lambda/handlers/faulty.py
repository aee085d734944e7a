"""Handlers that go wrong in each way a Lambda step can."""
import sys
import time


def raises(event, context):
    return {"model": event["model_id"]}  # the event has no model_id: KeyError, as Lambda reports it


def misses(event, context):
    return {"statusCode": 200, "verdict": "no score"}


def mistypes(event, context):
    return {"statusCode": "two hundred", "verdict": "x", "score": 1.0, "approved": True}


def not_an_object(event, context):
    return ["statusCode", 200]


def unserializable(event, context):
    return {"when": time}


def exits(event, context):
    sys.exit(3)


def sleeps(event, context):
    time.sleep(30)
