"""plan through the CLI, on real git repositories made with GitPython and SDK-built definitions."""

from __future__ import annotations

import json
import os

import pytest

pytest.register_assert_rewrite("deploy_support")  # before the import below, as for a plugin
from deploy_support import Fault, commit_all, use_variant  # noqa: E402
from helpers import smpipe, smpipe_in_process  # noqa: E402

pytest_plugins = ["deploy_support"]  # its fixtures: moto server, proxy, SDK-rendered projects


def branch_with(project, variant: str, commit: bool = True):
    """On a feature branch off main, make ``variant`` the rendered definition."""
    root, repo = project
    repo.git.checkout("-b", "feature")
    use_variant(root, variant)
    if commit:
        commit_all(repo, variant)
    return root


def plan(root, *args, env=None):
    return smpipe_in_process("plan", "-C", str(root), *args, env=env)


def plan_json(root, *args, env=None) -> dict:
    done = plan(root, "--format", "json", *args, env=env)
    assert done.returncode == 2, done.stderr
    return json.loads(done.stdout)


def test_no_change_exits_zero(project):
    root, _repo = project
    done = plan(root)
    assert done.returncode == 0, done.stderr
    assert "No changes." in done.stdout
    assert "merge base with main" in done.stdout


def test_step_added(project):
    root = branch_with(project, "added")
    result = plan_json(root)
    assert result["counts"] == {"added": 1, "changed": 0, "removed": 0, "renamed": 0}
    (step,) = result["steps"]
    assert (step["name"], step["type"], step["status"]) == ("Explain", "Processing", "added")
    assert result["risks"] == []
    text = plan(root).stdout
    assert text.splitlines()[1].startswith("Steps: 1 added, 0 changed, 0 removed, 0 renamed")
    assert "  + Explain (Processing)" in text


def test_instance_type_changed_with_downstream_steps(project):
    root = branch_with(project, "instance", commit=False)  # working tree vs merge base
    result = plan_json(root)
    (step,) = result["steps"]
    assert (step["name"], step["status"]) == ("Train", "changed")
    assert step["changes"] == [{"category": "instance type", "path": "Arguments.ResourceConfig.InstanceType",
                                "before": '"ml.m5.xlarge"', "after": '"ml.m5.2xlarge"', "note": "",
                                "when": ""}]  # no cache in this variant: used on the next execution
    assert step["downstream"] == ["Evaluate", "CheckMse", "Register", "Fail"]  # display names: no -RegisterModel
    assert result["risks"] == []
    text = plan(root).stdout
    assert 'instance type  Arguments.ResourceConfig.InstanceType: "ml.m5.xlarge" -> "ml.m5.2xlarge"' in text


def test_step_renamed_is_not_an_add_and_a_remove(project):
    root = branch_with(project, "renamed")
    result = plan_json(root)
    assert result["counts"] == {"added": 0, "changed": 0, "removed": 0, "renamed": 1}
    (step,) = result["steps"]
    assert (step["old_name"], step["name"]) == ("Preprocess", "Prep")
    assert "Preprocess renamed to Prep (Processing)" in plan(root).stdout


def test_removed_condition_is_flagged_as_risk(project):
    root = branch_with(project, "nocondition")
    result = plan_json(root)
    statuses = {step["name"]: step["status"] for step in result["steps"]}
    assert statuses == {"CheckMse": "removed", "Fail": "removed", "Register-RegisterModel": "changed"}
    gates = [risk for risk in result["risks"] if risk["kind"] == "gate"]
    assert sorted(step for risk in gates for step in risk["steps"]) == ["CheckMse", "Fail"]
    assert "it guarded Register, Fail" in next(r["message"] for r in gates if r["steps"] == ["CheckMse"])
    markdown = plan(root, "--format", "markdown")
    assert markdown.returncode == 2
    assert "**gate**: `Condition step removed: a quality gate is gone (it guarded Register, Fail)` (`CheckMse`)" \
        in markdown.stdout
    (graph,) = markdown.stdout.split("```mermaid")[1:]  # one graph: the head, the removed steps drawn in
    assert "CheckMse{" in graph and "class CheckMse,Fail removed" in graph and "class Register_RegisterModel changed" in graph


def test_model_approval_becoming_approved_is_a_risk(project):
    root = branch_with(project, "approved")
    result = plan_json(root)
    assert result["parameters"] == [{"name": "ApprovalStatus", "status": "changed",
                                     "before": 'String, default "PendingManualApproval"',
                                     "after": 'String, default "Approved"'}]
    (risk,) = result["risks"]
    assert risk["kind"] == "approval" and risk["steps"] == ["Register"]


def test_explicit_base_and_unknown_ref(project):
    root, repo = project
    first = repo.head.commit.hexsha
    use_variant(root, "instance")
    commit_all(repo, "on main itself")
    assert plan(root).returncode == 0  # merge base with main is HEAD: nothing uncommitted
    assert plan(root, "--base", first).returncode == 2
    done = plan(root, "--base", "no-such-branch")
    assert done.returncode == 1
    assert done.stderr.strip() == "error: --base no-such-branch: unknown git ref (hint: give a branch, tag or commit)"


def test_plan_against_deployed_pipeline(aws, project):
    root, _repo = project
    assert smpipe_in_process("apply", "-C", str(root), "--skip-check", env=aws.env).returncode == 0
    assert plan(root, "--deployed", env=aws.env).returncode == 0
    use_variant(root, "instance")
    done = smpipe("plan", "-C", str(root), "--deployed", env=aws.env, report_sdk=True)
    assert done.returncode == 2, done.stderr
    assert "Plan: deployed pipeline abalone -> working tree" in done.stdout
    assert "~ Train (Training)" in done.stdout
    assert "sagemaker imported: False" in done.stderr


def test_not_a_git_repository(tmp_path, rendered):
    (tmp_path / "pipeline").mkdir()
    for name in ("definition.json", "manifest.json"):
        (tmp_path / "pipeline" / name).write_text((rendered / "variants/base" / name).read_text())
    done = plan(tmp_path)
    assert done.returncode == 1
    assert "not inside a git repository" in done.stderr and "Traceback" not in done.stderr


def test_security_settings_are_risks(rendered):
    """Role, KMS, VPC and isolation edits on a real SDK definition, through compare()."""
    from smpipe_gen import definition, plan as planning

    before = json.loads((rendered / "variants/base/definition.json").read_text())
    before["Steps"][1]["Arguments"]["OutputDataConfig"]["KmsKeyId"] = "alias/models"
    after = json.loads(json.dumps(before))
    train = after["Steps"][1]["Arguments"]
    del train["OutputDataConfig"]["KmsKeyId"]
    train["RoleArn"] = "arn:aws:iam::123456789012:role/admin"
    train["EnableNetworkIsolation"] = False
    after["Steps"][0]["Arguments"]["NetworkConfig"]["VpcConfig"]["Subnets"] = ["subnet-public"]
    result = planning.compare(definition.from_json(before), definition.from_json(after), base="a", head="b")
    risks = {(risk.kind.value, risk.message) for risk in result.risks}
    assert risks == {
        ("kms", 'KMS key removed: "alias/models" -> <none>'),
        ("role", 'execution role changes: "arn:aws:iam::123456789012:role/smpipe-test" -> '
                 '"arn:aws:iam::123456789012:role/admin"'),
        ("network", "network isolation changes: <none> -> false"),
        ("network", 'subnets changes: ["subnet-1"] -> ["subnet-public"]'),
    }
    assert {step.name for step in result.steps} == {"Preprocess", "Train"}


def test_code_change_names_the_changed_files(project):
    root = branch_with(project, "newcode")
    result = plan_json(root)
    code = [(step["name"], change) for step in result["steps"] for change in step["changes"]]
    assert {name for name, _change in code} == {"Preprocess", "Train", "Evaluate"}  # one source dir, 3 uploads
    assert {change["category"] for _name, change in code} == {"code"}
    assert {change["note"] for _name, change in code} == {"changed: scripts/train.py"}
    assert "files changed: scripts/train.py" in plan(root).stdout


def test_default_base_follows_the_pr_target_branch_named_by_ci(project):
    root, repo = project
    repo.git.branch("release")  # the PR targets release, which lacks main's newer commit
    use_variant(root, "instance")
    commit_all(repo, "bigger training instance on main")
    assert plan(root).returncode == 0  # against main: nothing new
    env = dict(os.environ, GITHUB_BASE_REF="release")
    done = plan(root, env=env)
    assert done.returncode == 2, done.stderr
    assert done.stdout.startswith("Plan: merge base with release (")
    assert "~ Train (Training)" in done.stdout


def test_head_label_names_the_commit_or_the_pr_whatever_else_lies_in_the_tree(project):
    """Tests and CI leave files next to the render (a __pycache__, the plan report): the title
    still names the commit, and in CodeBuild the PR, also on a build started by hand for a PR
    (no webhook trigger, only CODEBUILD_SOURCE_VERSION)."""
    root, repo = project
    sha = repo.head.commit.hexsha
    (root / "pipeline/__pycache__").mkdir()
    (root / "pipeline/__pycache__/pipeline.cpython-311.pyc").write_bytes(b"")
    (root / "plan-report.md").write_text("")
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("CODEBUILD_", "GITHUB_"))}
    assert plan(root, env=clean).stdout.startswith(f"Plan: merge base with main ({sha[:8]}) -> HEAD ({sha[:8]})\n")
    ci = dict(clean, CODEBUILD_SOURCE_VERSION="pr/5", CODEBUILD_RESOLVED_SOURCE_VERSION=sha)
    assert plan(root, env=ci).stdout.startswith(f"Plan: merge base with main ({sha[:8]}) -> PR #5 ({sha[:8]})\n")
    use_variant(root, "instance")  # an uncommitted render is what the working tree holds
    assert plan(root, env=clean).stdout.startswith(f"Plan: merge base with main ({sha[:8]}) -> working tree\n")


def _with_code(root, variant: str) -> None:
    """``variant``'s render and the training code it was rendered from (apply checks the files)."""
    use_variant(root, variant)
    code = root / "variants" / variant / "train.py"
    (root / "scripts/train.py").write_text(code.read_text() if code.exists() else (root / "base-train.py").read_text())


def _deploy_and_run(aws, root, repo, variant: str) -> str:
    """Merge ``variant`` on main, apply it and start an execution (moto records its definition)."""
    _with_code(root, variant)
    commit_all(repo, f"merge {variant}")
    assert smpipe_in_process("apply", "-C", str(root), "--skip-check", env=aws.env).returncode == 0
    return aws.client("sagemaker").start_pipeline_execution(PipelineName="abalone")["PipelineExecutionArn"]


def test_a_revert_hits_the_run_before_the_change_when_the_forecast_reads_what_ran(aws, project):
    """main ran the base (E1), then new training code (E2); a PR reverts the code. Against the
    merge base the forecast says Preprocess misses; from the executions it hits E1's run.
    moto offers ListPipelineExecutions, DescribePipelineDefinitionForExecution and
    ListPipelineParametersForExecution, not ListPipelineExecutionSteps: the plan says what it assumes."""
    root, repo = project
    (root / "base-train.py").write_text((root / "scripts/train.py").read_text())
    first = _deploy_and_run(aws, root, repo, "base")
    _deploy_and_run(aws, root, repo, "newcode")
    repo.git.checkout("-b", "revert")
    _with_code(root, "base")
    commit_all(repo, "revert the training code")
    offline = plan_json(root)
    assert {p["step"]: p["outcome"] for p in offline["cache"] if p["job"]}["Preprocess"] == "miss"
    assert offline["forecast"]["basis"] == "base"
    result = plan_json(root, "--cache-history", env=aws.env)
    preprocess = next(p for p in result["cache"] if p["step"] == "Preprocess")
    assert (preprocess["outcome"], preprocess["source_execution"]) == ("hit", first)
    assert preprocess["causes"][0]["reason"] == "matches a run"
    forecast = result["forecast"]
    assert forecast["basis"] == "executions" and len(forecast["executions"]) == 2
    assert forecast["assumption"].startswith("compares with the 2 executions of abalone within 30 days")
    assert "lists no execution steps, so every step of a succeeded execution counts as succeeded" in forecast["assumption"]


def test_a_step_that_failed_in_every_run_has_nothing_to_reuse(aws, project, fault_proxy):
    """ListPipelineExecutionSteps answered in the service model's own shape (checked against
    botocore's output shape): a run whose Preprocess failed is no cache entry."""
    from botocore.loaders import Loader
    from botocore.model import ServiceModel
    from botocore.validate import ParamValidator

    root, repo = project
    (root / "base-train.py").write_text((root / "scripts/train.py").read_text())
    _deploy_and_run(aws, root, repo, "base")
    answer = {"PipelineExecutionSteps": [
        {"StepName": "Preprocess", "StepStatus": "Failed", "FailureReason": "ClientError: AlgorithmError",
         "StartTime": 1767225600, "Metadata": {"ProcessingJob": {"Arn": "arn:aws:sagemaker:us-east-1:123456789012:"
                                                                       "processing-job/pipelines-x-preprocess"}}},
        {"StepName": "Train", "StepStatus": "Succeeded", "StartTime": 1767225600,
         "CacheHitResult": {"SourcePipelineExecutionArn": "arn:aws:sagemaker:us-east-1:123456789012:pipeline/"
                                                          "abalone/execution/older"}}]}
    output = ServiceModel(Loader().load_service_model("sagemaker", "service-2")).operation_model(
        "ListPipelineExecutionSteps").output_shape
    report = ParamValidator().validate({**answer, "PipelineExecutionSteps": [
        {**s, "StartTime": 1767225600.0} for s in answer["PipelineExecutionSteps"]]}, output)
    assert not report.has_errors(), report.generate_report()
    fault_proxy.faults.append(Fault("ListPipelineExecutionSteps", 200, answer, times=-1))
    env = dict(aws.env, AWS_ENDPOINT_URL=fault_proxy.endpoint)
    use_variant(root, "instance")
    result = plan_json(root, "--cache-history", env=env)
    preprocess = next(p for p in result["cache"] if p["step"] == "Preprocess")
    assert preprocess["outcome"] == "miss"
    assert preprocess["causes"][0] == {"reason": "no matching run",
                                       "detail": "no successful run of this step within P30D has this cache key"}
    assert "lists no execution steps" not in result["forecast"]["assumption"]
    assert "SageMaker.ListPipelineExecutionSteps" in fault_proxy.seen
