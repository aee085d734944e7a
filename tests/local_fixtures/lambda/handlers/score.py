"""A Lambda handler of the shape AWS's pipeline notebooks use: reads its event, returns a JSON
object whose keys are the step's outputs (statusCode and body-like strings among them)."""


def lambda_handler(event, context):
    score = event["rows"] / 100
    print(f"{context.function_name} scoring {event['model_name']}: {score}")
    return {"statusCode": 200, "verdict": f"{event['model_name']} scored {score}", "score": score,
            "approved": score >= 0.5, "remaining_ms_positive": context.get_remaining_time_in_millis() > 0}
