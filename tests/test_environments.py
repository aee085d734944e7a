"""Environments (environments/<name>.env, one render per account under pipeline/<name>/) and the
validation of framework values: placeholders and malformed values are refused before any render."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from helpers import copy_example, make_repo, smpipe, smpipe_in_process, write
from smpipe_gen.config.environment import framework_variables
from smpipe_gen.config.values import problem
from smpipe_gen.errors import SmpipeError

from test_config import BASE

DEV = """\
export SMP_ACCOUNTID="111111111111"
export SMP_REGION="us-east-1"
export SMP_S3BUCKETNAME="ml-dev-bucket"
export SMP_ROLE="arn:aws:iam::111111111111:role/SageMakerDev"
export SMP_TRAIN_INSTANCE="ml.m5.large"
"""
PROD = """\
export SMP_ACCOUNTID="222222222222"
export SMP_REGION="eu-west-1"
export SMP_S3BUCKETNAME="ml-prod-bucket"
export SMP_ROLE="arn:aws:iam::222222222222:role/SageMakerProd"
export SMP_KMSKEY="alias/ml-prod"
export SMP_TRAIN_INSTANCE="ml.m5.4xlarge"
"""


@pytest.mark.parametrize(("name", "value", "why"), [
    ("SMP_ACCOUNTID", "xxxxxxxxxxxx", "placeholder"),
    ("SMP_ACCOUNTID", "\u201dxxxxxxxxxxxx\u201d", "placeholder"),  # the original's template, curly quotes
    ("SMP_SUBNETS", "subnet-xxxxxxxx", "placeholder"),
    ("SMP_ROLE", "<your role>", "placeholder"),
    ("SMP_ACCOUNTID", "12345", "12-digit"),
    ("SMP_REGION", "us-east1", "did you mean us-east-1"),
    ("SMP_S3BUCKETNAME", "My_Bucket", "S3 bucket name"),
    ("SMP_S3BUCKETNAME", "a..b", "adjacent dots"),
    ("SMP_S3BUCKETNAME", "192.168.1.10", "IP address"),
    ("SMP_ROLE", "arn:aws:iam::123456789012:user/me", "IAM role ARN"),
    ("SMP_SECURITYGROUPS", "sg-0a1b,subnet-1", "'subnet-1'"),
    ("SMP_KMSKEY", "my-key", "KMS key"),
])
def test_bad_values_are_refused(name, value, why):
    assert why in problem(name, value)


@pytest.mark.parametrize(("name", "value"), [
    ("SMP_ACCOUNTID", "123456789012"),  # the documentation account: the examples render with it
    ("SMP_REGION", "ap-south-2"), ("SMP_REGION", "us-gov-west-1"),
    ("SMP_S3BUCKETNAME", "sagemaker-us-east-1-123456789012"), ("SMP_S3BUCKETNAME", "ml.data-bucket"),
    ("SMP_ROLE", "arn:aws:iam::123456789012:role/service-role/AmazonSageMaker-ExecutionRole-2024"),
    ("SMP_SUBNETS", "subnet-0a1b2c3d4e5f60718, subnet-1"), ("SMP_SECURITYGROUPS", "sg-0123abcd"),
    ("SMP_KMSKEY", "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"),
    ("SMP_KMSKEY", "alias/ml-prod"), ("SMP_KMSKEY", "1234abcd-12ab-34cd-56ef-1234567890ab"),
    ("SMP_TRAIN_INSTANCE", "ml.m5.large"),
])
def test_good_values_pass(name, value):
    assert problem(name, value) is None


def test_original_framework_template_env_file_is_refused_by_name(tmp_path):
    make_repo(tmp_path, BASE)
    write(tmp_path / "env.env", """\
        export SMP_ACCOUNTID=\u201dxxxxxxxxxxxx\u201d
        export SMP_REGION="us-east-1"
        export SMP_S3BUCKETNAME="sagemaker-us-east-1-xxxxxxxxxxxx"
        export SMP_ROLE="arn:aws:iam::xxxxxxxxxxxx:role/SageMakerRole"
        export SMP_SUBNETS="subnet-xxxxxxxx"
        export SMP_MODEL_CONFIGPATH="conf/conf.yaml"
        """)
    done = smpipe("render", cwd=tmp_path)
    assert done.returncode == 1, done.stdout + done.stderr
    lines = [line for line in done.stderr.splitlines() if line.startswith("error: ")]
    assert [line.split(":")[1:3] for line in lines] == [
        [" env.env", "1"], [" env.env", "4"], [" env.env", "3"], [" env.env", "5"]], done.stderr
    assert "SMP_ACCOUNTID is a placeholder" in lines[0] and "SMP_SUBNETS is a placeholder" in lines[3]
    assert "Traceback" not in done.stderr and not (tmp_path / "pipeline").exists()


def environments(root, **files: str) -> None:
    for name, text in files.items():
        write(root / "environments" / f"{name}.env", text)


def test_environment_file_wins_over_env_env_and_defines_tokens(tmp_path):
    make_repo(tmp_path, BASE.replace("entry_point: train.py", "entry_point: train.py\n        instance_type: SMP_TRAIN_INSTANCE"))
    environments(tmp_path, dev=DEV, prod=PROD)
    dev = framework_variables(tmp_path, {}, {}, "dev")
    prod = framework_variables(tmp_path, {}, {}, "prod")
    assert (dev["SMP_ROLE"], dev["SMP_MODEL_CONFIGPATH"], dev["SMP_ENVIRONMENT"]) == (
        "arn:aws:iam::111111111111:role/SageMakerDev", "conf/conf.yaml", "dev")
    assert prod["SMP_TRAIN_INSTANCE"] == "ml.m5.4xlarge" and "SMP_KMSKEY" not in dev
    from smpipe_gen.config.loader import load_config

    loaded = load_config(tmp_path, environ={}, environment="prod")
    assert loaded.spec.models["m"].train.instance_type == "ml.m5.4xlarge"
    assert (loaded.spec.settings.kms_key, loaded.spec.settings.environment) == ("alias/ml-prod", "prod")


def test_a_token_one_environment_forgets_stops_that_render(tmp_path):
    """Defined in dev.env, forgotten in prod.env: prod must not render the literal token as its
    hyperparameter (or anything else); the error names the config line and the token."""
    make_repo(tmp_path, BASE.replace("entry_point: train.py", "entry_point: train.py\n"
                                     "        hyperparameters: {max_depth: SMP_MAX_DEPTH}"))
    environments(tmp_path, dev=DEV + 'export SMP_MAX_DEPTH="5"\n', prod=PROD)
    from smpipe_gen.config.loader import load_config

    assert load_config(tmp_path, environ={}, environment="dev").spec.models["m"].train.hyperparameters == \
        {"max_depth": "5"}
    with pytest.raises(SmpipeError) as caught:
        load_config(tmp_path, environ={}, environment="prod")
    line = caught.value.lines()[0]
    assert line.startswith("conf/conf.yaml:") and "conf.models.m.train.hyperparameters.max_depth: " \
        "SMP_MAX_DEPTH is not defined" in line, line
    assert "SMP_MAX_DEPTH is not defined for environment prod" in line
    assert "(hint: define it in environments/prod.env (or in env.env, for every environment))" in line


def test_process_environment_never_changes_a_committed_environment(tmp_path):
    make_repo(tmp_path, BASE)
    environments(tmp_path, dev=DEV, prod=PROD)
    same = framework_variables(tmp_path, {"SMP_REGION": "eu-west-1", "SMP_OTHER": "x"}, {}, "prod")
    assert same["SMP_REGION"] == "eu-west-1" and "SMP_OTHER" not in same
    with pytest.raises(SmpipeError) as caught:
        framework_variables(tmp_path, {"SMP_ROLE": "arn:aws:iam::222222222222:role/Other"}, {}, "prod")
    assert "SMP_ROLE is set in the process environment" in caught.value.one_line()
    assert "environments/prod.env:4" in caught.value.one_line()


def test_role_of_another_account_is_refused(tmp_path):
    make_repo(tmp_path, BASE)
    environments(tmp_path, prod=PROD.replace("arn:aws:iam::222222222222:role/SageMakerProd",
                                             "arn:aws:iam::111111111111:role/SageMakerDev"))
    with pytest.raises(SmpipeError) as caught:
        framework_variables(tmp_path, {}, {}, "prod")
    assert caught.value.one_line().startswith(
        "environments/prod.env:4: SMP_ROLE is in account 111111111111, but SMP_ACCOUNTID is 222222222222")


def test_dev_account_copied_into_prod_names_both_values_and_where_each_is_set(tmp_path):
    """prod.env with dev's SMP_ACCOUNTID and prod's (correct) role: the hint must not only say
    to change the role."""
    make_repo(tmp_path, BASE)
    environments(tmp_path, prod=PROD.replace("222222222222", "111111111111", 1))
    with pytest.raises(SmpipeError) as caught:
        framework_variables(tmp_path, {}, {}, "prod")
    line = caught.value.one_line()
    assert line.startswith("environments/prod.env:4: SMP_ROLE is in account 222222222222, but SMP_ACCOUNTID is "
                           "111111111111"), line
    assert "if this one is account 222222222222, set SMP_ACCOUNTID in environments/prod.env:1 to 222222222222" in line
    assert "else give SMP_ROLE a value of account 111111111111" in line


def test_process_variables_are_tokens_only_when_declared(tmp_path):
    make_repo(tmp_path, BASE)
    variables = framework_variables(tmp_path, {"SMP_REGION": "us-west-2", "SMP_HOME": "/root"}, {})
    assert variables["SMP_REGION"] == "us-west-2" and "SMP_HOME" not in variables


@pytest.mark.parametrize("command", [("graph",), ("run", "--local"), ("apply", "--dry-run")])
@pytest.mark.parametrize(("args", "message"), [
    ((), "several environments (dev, prod)"),
    (("-E", "prod2"), "did you mean 'prod'?"),
])
def test_environment_must_be_named_when_there_are_several(tmp_path, command, args, message):
    make_repo(tmp_path, BASE)
    environments(tmp_path, dev=DEV, prod=PROD)
    done = smpipe_in_process(*command, *args, cwd=tmp_path)
    assert done.returncode == 1 and message in done.stderr, done.stderr


def test_environment_option_needs_environments(tmp_path):
    make_repo(tmp_path, BASE)
    done = smpipe_in_process("validate", "-E", "dev", cwd=tmp_path)
    assert done.returncode == 1 and "has no environments/ directory" in done.stderr, done.stderr


def regional_images(root: Path, dev: str = DEV, prod: str = PROD) -> None:
    """The example's AWS images with the account of each environment's region (AWS publishes
    them under another account in eu-west-1 than in us-east-1), then the environment files."""
    conf = root / "conf" / "conf.yaml"
    conf.write_text(conf.read_text().replace("683313688378.dkr.ecr", "SMP_IMAGE_ACCOUNT.dkr.ecr"))
    environments(root, dev=dev + 'export SMP_IMAGE_ACCOUNT="683313688378"\n',
                 prod=prod + 'export SMP_IMAGE_ACCOUNT="141502667606"\n')


def test_every_environment_renders_into_its_own_directory(tmp_path):
    root = copy_example("abalone", tmp_path)
    conf = root / "conf" / "conf.yaml"
    conf.write_text(conf.read_text().replace("instance_type: ml.m5.xlarge", "instance_type: SMP_TRAIN_INSTANCE"))
    regional_images(root)
    done = smpipe_in_process("render", cwd=root)
    assert done.returncode == 0, done.stderr
    assert "rendered pipeline/dev/" in done.stdout and "rendered pipeline/prod/" in done.stdout
    dev = json.loads((root / "pipeline" / "dev" / "definition.json").read_text())
    prod = json.loads((root / "pipeline" / "prod" / "definition.json").read_text())
    text = {name: json.dumps(d) for name, d in (("dev", dev), ("prod", prod))}
    assert "ml-dev-bucket" in text["dev"] and "ml-prod-bucket" not in text["dev"]
    assert "SageMakerProd" in text["prod"] and "ml.m5.4xlarge" in text["prod"] and "ml.m5.large" in text["dev"]
    manifest = json.loads((root / "pipeline" / "prod" / "manifest.json").read_text())["pipeline"]
    assert (manifest["environment"], manifest["kms_key"], manifest["region"]) == ("prod", "alias/ml-prod", "eu-west-1")
    assert smpipe_in_process("check", cwd=root).stdout.strip() == "ok: rendered artifacts are current (dev, prod)"
    (root / "environments" / "prod.env").write_text(PROD.replace("ml.m5.4xlarge", "ml.m5.2xlarge")
                                                    + 'export SMP_IMAGE_ACCOUNT="141502667606"\n')
    stale = smpipe_in_process("check", "-E", "prod", cwd=root)
    assert stale.returncode == 2 and "pipeline/prod/definition.json" in stale.stdout, stale.stdout
    assert smpipe_in_process("check", "-E", "dev", cwd=root).returncode == 0
    graph = smpipe_in_process("graph", "-E", "dev", cwd=root)
    assert graph.returncode == 0 and graph.stdout.startswith("flowchart"), graph.stdout + graph.stderr


def test_render_removes_and_check_reports_renders_of_a_layout_the_repository_no_longer_has(tmp_path):
    root = copy_example("abalone", tmp_path)  # its single render is committed under pipeline/
    assert (root / "pipeline" / "definition.json").is_file()
    (root / "pipeline" / "notes.md").write_text("the user's own file\n")
    regional_images(root, prod=PROD.replace('export SMP_KMSKEY="alias/ml-prod"\n', ""))
    stale = smpipe_in_process("check", cwd=root)
    assert stale.returncode == 2, stale.stdout + stale.stderr
    assert "stale: pipeline/definition.json is a render of a layout this repository no longer has" in stale.stderr
    done = smpipe_in_process("render", cwd=root)
    assert done.returncode == 0, done.stderr
    assert "removed pipeline/manifest.json: a render of a layout this repository no longer has" in done.stdout
    assert sorted(p.name for p in (root / "pipeline").iterdir()) == ["dev", "notes.md", "prod"]
    assert smpipe_in_process("check", cwd=root).returncode == 0
    (root / "environments" / "prod.env").unlink()  # an environment that is gone leaves its directory
    assert "pipeline/prod/definition.json is a render" in smpipe_in_process("check", cwd=root).stderr
    assert smpipe_in_process("render", cwd=root).returncode == 0
    assert sorted(p.name for p in (root / "pipeline").iterdir()) == ["dev", "notes.md"]
