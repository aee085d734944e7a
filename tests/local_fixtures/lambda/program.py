"""An SDK program of the shape AWS's Lambda-step notebook has: a plain Session, the execution
role, a function created from one script with the SDK's Lambda helper (LambdaStep upserts it while
the definition is built), a LambdaStep whose LambdaOutputs feed a ConditionStep, a FailStep on the
other branch. Run with ``smpipe-gen run --local --pipeline program.py``."""

import sagemaker
from sagemaker.lambda_helper import Lambda
from sagemaker.workflow.condition_step import ConditionStep
from sagemaker.workflow.conditions import ConditionEquals
from sagemaker.workflow.fail_step import FailStep
from sagemaker.workflow.functions import Join
from sagemaker.workflow.lambda_step import LambdaOutput, LambdaOutputTypeEnum, LambdaStep
from sagemaker.workflow.parameters import ParameterFloat
from sagemaker.workflow.pipeline import Pipeline

session = sagemaker.Session()
role = sagemaker.get_execution_role()
accuracy = ParameterFloat(name="Accuracy", default_value=0.9)

evaluate = Lambda(function_name="evaluate-model", execution_role_arn=role, script="lambdas/evaluate_model.py",
                  handler="evaluate_model.lambda_handler", timeout=30, session=session)
step_evaluate = LambdaStep(
    name="EvaluateModel", lambda_func=evaluate,
    inputs={"model_name": "churn", "accuracy": accuracy, "threshold": 0.8},
    outputs=[LambdaOutput(output_name="statusCode", output_type=LambdaOutputTypeEnum.Integer),
             LambdaOutput(output_name="body"),
             LambdaOutput(output_name="approved", output_type=LambdaOutputTypeEnum.Boolean)])
step_reject = FailStep(name="Rejected",
                       error_message=Join(on=": ", values=["rejected", step_evaluate.properties.Outputs["body"]]))
step_check = ConditionStep(name="CheckApproval",
                           conditions=[ConditionEquals(left=step_evaluate.properties.Outputs["approved"], right=True)],
                           if_steps=[], else_steps=[step_reject])
pipeline = Pipeline(name="lambda-gate", parameters=[accuracy], steps=[step_evaluate, step_check],
                    sagemaker_session=session)
