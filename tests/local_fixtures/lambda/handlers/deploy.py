"""What AWS's Lambda-step notebook's function does with the model the pipeline created: looks it
up and creates an endpoint config (then an endpoint) from it, with boto3."""
import boto3


def handler(event, context):
    sagemaker = boto3.client("sagemaker")
    model = sagemaker.describe_model(ModelName=event["model_name"])
    config = sagemaker.create_endpoint_config(
        EndpointConfigName=f"{event['model_name']}-config",
        ProductionVariants=[{"VariantName": "AllTraffic", "ModelName": event["model_name"],
                             "InstanceType": "ml.m5.large", "InitialInstanceCount": 1}])
    return {"image": model["PrimaryContainer"]["Image"], "endpoint_config": config["EndpointConfigArn"]}
