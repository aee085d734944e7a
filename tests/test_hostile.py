"""Hostile input: a config file arrives in a pull request, so it is untrusted. Each defect
class found by probing gets a test here that shows the refusal message."""

from __future__ import annotations

import json
import re
import shutil
import time
from pathlib import Path

import git
import pytest

from helpers import ENV_FILE, copy_example, make_repo, smpipe, smpipe_in_process, write
from smpipe_gen.config.loader import load_config
from smpipe_gen.config.resolve import resolve
from smpipe_gen.json_values import strings
from smpipe_gen.errors import SmpipeError
from smpipe_gen.render.literals import comment_text

from test_config import BASE

INJECTED_MODEL = '''
conf:
  models:
    "m\\n    open({canary!r}, 'w').write('pwned')\\n    #":
      source_directory: scripts
      preprocess:
        image_uri: img
        entry_point: preprocess.py
  sagemakerPipeline:
    pipelineName: p
    models:
      "m\\n    open({canary!r}, 'w').write('pwned')\\n    #":
        steps:
          - step_name: m-Pre
            step_class: Processing
            step_type: preprocess
'''


@pytest.mark.parametrize("command", ["validate", "render", "check"])
def test_code_in_a_model_name_is_refused_and_never_runs(tmp_path, command):
    canary = tmp_path / "canary"
    repo = make_repo(tmp_path / "repo", INJECTED_MODEL.format(canary=str(canary)))
    result = smpipe(command, "-C", str(repo))
    assert result.returncode == 1, result.stderr
    assert 'model name "m\\n    open(' in result.stderr
    assert "is not allowed" in result.stderr and "conf/conf.yaml:3: conf.models." in result.stderr
    assert "Traceback" not in result.stderr
    assert not canary.exists()
    assert not (repo / "pipeline").exists()


def test_code_in_a_custom_section_name_is_refused(tmp_path):
    conf = '''
    conf:
      models:
        m:
          source_directory: scripts
          "x\\nimport os":
            image_uri: img
            entry_point: preprocess.py
      sagemakerPipeline:
        pipelineName: p
        models:
          m:
            steps:
              - step_name: m-Pre
                step_class: Processing
                step_type: "x\\nimport os"
    '''
    result = smpipe("validate", "-C", str(make_repo(tmp_path, conf)))
    assert result.returncode == 1
    assert "section name 'x\\nimport os' is not allowed" in result.stderr
    assert "step_type" in result.stderr and "String should match pattern" in result.stderr


def test_comments_escape_line_breaks_anyway():
    assert comment_text("a\nb\r\x0cc\u2028d") == "a\\nb\\r\\x0cc\\u2028d"
    assert comment_text(comment_text("x\ny")) == "x\\ny"


# ---------------------------------------------------------------- YAML limits

def _load(tmp_path: Path, content: bytes | str):
    from smpipe_gen.config.yaml_source import load_yaml

    file = tmp_path / "conf.yaml"
    file.write_bytes(content if isinstance(content, bytes) else content.encode())
    with pytest.raises(SmpipeError) as caught:
        load_yaml(file, "conf/conf.yaml")
    return caught.value.one_line()


BOMB = "conf:\n  unused:\n    a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"    {chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 10)}]\n" for i in range(9))


def test_alias_bomb_under_an_unused_key_fails_fast(tmp_path):
    started = time.monotonic()
    message = _load(tmp_path, BOMB)
    assert time.monotonic() - started < 5
    assert message.startswith("conf/conf.yaml:")
    assert "more than 100,000 nodes once aliases are expanded" in message


def test_deep_nesting_is_one_line_not_recursion_error(tmp_path):
    message = _load(tmp_path, "conf: " + "[" * 5000 + "]" * 5000 + "\n")
    assert message.startswith("conf/conf.yaml:1:") and "nesting deeper than 64 levels" in message
    block = "".join(" " * i + f"k{i}:\n" for i in range(500)) + " " * 500 + "v\n"
    assert "nesting deeper than 64 levels" in _load(tmp_path, block)


def test_size_and_node_count_are_bounded(tmp_path):
    assert "config file is too large (2,000,006 bytes; the limit is 1,048,576)" in _load(
        tmp_path, "conf: " + "x" * 2_000_000)
    many = "conf:\n" + "".join(f"  k{i}: {i}\n" for i in range(60_000))
    assert "more than 100,000 nodes" in _load(tmp_path, many)


def test_nul_and_non_utf8_are_reported_with_line_and_column(tmp_path):
    assert _load(tmp_path, b"conf:\n  models: \xff\n") == (
        "conf/conf.yaml:2:11: not UTF-8: byte 0xff cannot be decoded (hint: save the file as UTF-8)")
    assert _load(tmp_path, "conf:\n  a: b\x00\n").startswith("conf/conf.yaml:2:7: NUL character in the file")
    assert _load(tmp_path, "conf:\n  a: \x07\n").startswith("conf/conf.yaml:2:6: invalid character '\\x07'")


def test_anchors_and_aliases_within_limits_still_work(tmp_path):
    from smpipe_gen.config.yaml_source import load_yaml

    file = tmp_path / "ok.yaml"
    file.write_text("base: &base {image_uri: img, instance_count: 2}\ntrain: *base\n")
    assert load_yaml(file, "ok.yaml").data["train"] == {"image_uri": "img", "instance_count": 2}


# ---------------------------------------------------------------- paths stay inside the repository

def _refusals(root: Path, environ: dict[str, str] | None = None) -> str:
    with pytest.raises(SmpipeError) as caught:
        resolve(load_config(root, environ=environ or {}))
    return "\n".join(caught.value.lines())


def test_source_directory_outside_the_repository_is_refused(tmp_path):
    write(tmp_path / "sibling" / "secret.txt", "secret")
    repo = make_repo(tmp_path / "repo", BASE.replace("source_directory: scripts", "source_directory: ../sibling"))
    message = _refusals(repo)
    assert "conf/conf.yaml:4: conf.models.m.source_directory: source_directory '../sibling' leads outside repo/" in message


def test_symlinked_source_directory_leading_out_is_refused(tmp_path):
    (tmp_path / "elsewhere").mkdir()
    repo = make_repo(tmp_path / "repo", BASE.replace("source_directory: scripts", "source_directory: linked"))
    (repo / "linked").symlink_to(tmp_path / "elsewhere")
    assert "source_directory 'linked' leads outside repo/" in _refusals(repo)


@pytest.mark.parametrize("entry, expected", [
    ("/etc/hostname", "entry_point '/etc/hostname' leads outside scripts/"),
    ("../env.env", "entry_point '../env.env' leads outside scripts/"),
    ("x" * 300 + ".py", "is not a usable path (File name too long)"),
])
def test_entry_points_stay_in_the_source_directory(tmp_path, entry, expected):
    repo = make_repo(tmp_path, BASE.replace("entry_point: preprocess.py", f"entry_point: {entry}"))
    message = _refusals(repo)
    assert "conf/conf.yaml:7: conf.models.m.preprocess.entry_point: " in message and expected in message
    assert "x" * 100 not in message  # long values are shortened


def test_wrong_typed_entry_point_in_a_custom_section_is_one_line(tmp_path):
    conf = BASE.replace("preprocess:", "prep:").replace("step_type: preprocess", "step_type: prep") \
        .replace("entry_point: preprocess.py", "entry_point: [a, b]")
    message = _refusals(make_repo(tmp_path, conf))
    assert "conf.models.m.prep.entry_point: entry_point must be a non-empty string, got ['a', 'b']" in message


def test_local_data_may_not_point_at_etc(tmp_path):
    conf = BASE + "    local_data:\n      s3://b/raw: /etc\n"
    message = _refusals(make_repo(tmp_path, conf))
    assert "conf.sagemakerPipeline.local_data.s3://b/raw: local_data path '/etc' leads outside" in message


def test_config_glob_may_not_leave_the_repository(tmp_path):
    make_repo(tmp_path / "other", BASE)
    repo = make_repo(tmp_path / "repo", BASE)
    message = _refusals(repo, {"SMP_MODEL_CONFIGPATH": "../*/conf/conf.yaml"})
    assert message.startswith("SMP_MODEL_CONFIGPATH: SMP_MODEL_CONFIGPATH must stay inside the repository")
    (repo / "linked").symlink_to(tmp_path / "other")
    message = _refusals(repo, {"SMP_MODEL_CONFIGPATH": "linked/conf/conf.yaml"})
    assert "config file 'linked/conf/conf.yaml' leads outside repo/" in message


def test_framework_conf_stays_inside(tmp_path):
    repo = make_repo(tmp_path, BASE)
    message = _refusals(repo, {"SMP_FRAMEWORK_CONFPATH": "/etc/passwd"})
    assert "SMP_FRAMEWORK_CONFPATH=/etc/passwd: framework config '/etc/passwd' leads outside" in message


# ---------------------------------------------------------------- what code bundles hold

def _bundled_paths(repo: Path) -> set[str]:
    manifest = json.loads((repo / "pipeline" / "manifest.json").read_text())
    return {item["path"] for artifact in manifest["artifacts"] for item in artifact.get("files", [])}


def test_bundles_skip_git_local_state_output_and_outward_symlinks(tmp_path):
    (tmp_path / "outside.txt").write_text("secret")
    conf = BASE.replace("source_directory: scripts", "source_directory: .").replace(
        "entry_point: ", "entry_point: scripts/")
    repo = make_repo(tmp_path / "repo", conf)
    write(repo / ".smpipe" / "store" / "data.csv", "1,2\n")
    (repo / "scripts" / "leak.txt").symlink_to(tmp_path / "outside.txt")
    (repo / "scripts" / "inner.txt").symlink_to(repo / "scripts" / "train.py")
    first = smpipe_in_process("render", "-C", str(repo))
    assert first.returncode == 0, first.stderr
    paths = _bundled_paths(repo)
    assert "scripts/preprocess.py" in paths and "scripts/inner.txt" in paths
    assert not {p for p in paths if p.startswith((".smpipe/", "pipeline/", ".git/")) or p == "scripts/leak.txt"}
    check = smpipe_in_process("check", "-C", str(repo))
    assert check.returncode == 0, check.stdout + check.stderr


def test_in_git_only_tracked_files_are_bundled(tmp_path):
    repo = make_repo(tmp_path, BASE)
    git_repo = git.Repo.init(repo)
    git_repo.index.add(["env.env", "conf/conf.yaml", "scripts/preprocess.py", "scripts/train.py",
                        "scripts/evaluate.py", "scripts/inference.py"])
    git_repo.index.commit("init")
    assert smpipe_in_process("render", "-C", str(repo)).returncode == 0
    before = {name: (repo / "pipeline" / name).read_bytes() for name in ("definition.json", "manifest.json")}
    write(repo / "scripts" / "scratch.py", "print('untracked')\n")
    write(repo / "scripts" / ".ipynb_checkpoints" / "train-checkpoint.py", "x = 1\n")
    check = smpipe_in_process("check", "-C", str(repo))
    assert check.returncode == 0, check.stdout + check.stderr
    assert "scripts/scratch.py" not in _bundled_paths(repo)
    assert before == {name: (repo / "pipeline" / name).read_bytes() for name in before}


def test_an_entry_point_git_does_not_track_is_named_before_the_sdk_sees_it(tmp_path):
    repo = make_repo(tmp_path, BASE)
    git.Repo.init(repo)  # nothing added yet: the bundles would hold no file
    result = smpipe_in_process("render", "-C", str(repo))
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "scripts/preprocess.py is not in the code bundle: git does not track it" in result.stderr
    assert "hint: git add scripts/preprocess.py" in result.stderr
    assert not (repo / "pipeline").exists()


# ---------------------------------------------------------------- numbers and long values

@pytest.mark.parametrize("key, value, expected", [
    ("instance_count", 10**30, "Input should be less than or equal to 100 (got 1000000000000000000000000000000)"),
    ("volume_size_in_gb", 16385, "Input should be less than or equal to 16384"),
    ("max_runtime_seconds", 777_601, "Input should be less than or equal to 777600"),
])
def test_processing_numbers_follow_sagemaker_limits(tmp_path, key, value, expected):
    conf = BASE.replace("entry_point: preprocess.py", f"entry_point: preprocess.py\n        {key}: {value}", 1)
    message = _refusals(make_repo(tmp_path, conf))
    assert f"conf/conf.yaml:8: conf.models.m.preprocess.{key}: {expected}" in message


def test_pipeline_parallelism_and_training_runtime_are_bounded(tmp_path):
    conf = BASE.replace("pipelineName: p", f"pipelineName: p\n    parallelism: {10**30}") \
        .replace("entry_point: train.py", "entry_point: train.py\n        max_runtime_seconds: 2419201")
    message = _refusals(make_repo(tmp_path, conf))
    assert "conf.sagemakerPipeline.parallelism: Input should be less than or equal to 2147483647" in message
    assert "conf.models.m.train.max_runtime_seconds: Input should be less than or equal to 2419200" in message


def test_a_huge_bad_value_is_shortened_in_the_message(tmp_path):
    conf = BASE.replace("entry_point: preprocess.py", "entry_point: preprocess.py\n        volume_size_in_gb: "
                        + "9" * 100_000, 1)
    message = _refusals(make_repo(tmp_path, conf))
    assert len(message) < 400 and "value cannot be read (Exceeds the limit (4300 digits)" in message
    long_text = BASE.replace("image_uri: img", "image_uri: img\n        instance_count: " + "x" * 100_000, 1)
    message = _refusals(make_repo(tmp_path, long_text))
    assert len(message) < 400 and "(got 'xxxxxxxx" in message and "…" in message


@pytest.mark.parametrize("models, kind", [("[a, b]", "list"), ("7", "int"), ("just-a-string", "str")])
def test_conf_models_of_the_wrong_type_is_one_line(tmp_path, models, kind):
    conf = "conf:\n  models: " + models + "\n" + BASE.split("\n  sagemakerPipeline:")[1].join(
        ["  sagemakerPipeline:", ""])
    message = _refusals(make_repo(tmp_path, conf))
    assert f"conf/conf.yaml:2: conf.models: conf.models must be a mapping of model names, got {kind}" in message


# ---------------------------------------------------------------- apply trusts only sealed renders

@pytest.mark.parametrize("edit, expected", [
    (("definition.json", '"ml.m5.xlarge"', '"ml.p4d.24xlarge"'),
     "definition.json does not match the digest render recorded in manifest.json"),
    (("manifest.json", "role/SageMakerPipelineExecution", "role/Admin"),
     "the pipeline settings in manifest.json (name, role, region, bucket, tags, ...) do not match"),
])
def test_apply_refuses_hand_edited_renders_even_with_skip_check(tmp_path, edit, expected):
    root = copy_example("abalone", tmp_path)
    name, old, new = edit
    file = root / "pipeline" / name
    assert old in file.read_text()
    file.write_text(file.read_text().replace(old, new))
    done = smpipe("apply", "-C", str(root), "--skip-check", "--yes")
    assert done.returncode == 1
    assert done.stderr.startswith(f"error: pipeline/manifest.json: {expected}"), done.stderr


def _edit_first_bundle(root: Path, edit) -> dict:
    manifest_file = root / "pipeline" / "manifest.json"
    manifest = json.loads(manifest_file.read_text())
    edit(next(a for a in manifest["artifacts"] if a["kind"] == "sourcedir"))
    manifest_file.write_text(json.dumps(manifest, indent=2))
    return manifest


def _aim_at_secret(secret: Path):
    def edit(artifact: dict) -> None:
        import hashlib

        artifact["files"][0]["path"] = "../outside-secret.txt"
        artifact["files"][0]["sha256"] = hashlib.sha256(secret.read_bytes()).hexdigest()
    return edit


def _other_bucket(artifact: dict) -> None:
    artifact["s3_uri"] = artifact["s3_uri"].replace("smpipe-examples-123456789012", "attacker-bucket")


@pytest.mark.parametrize("edit", ["path", "bucket"])
def test_the_seal_covers_the_artifact_list(tmp_path, edit):
    """With --skip-check, an artifact entry naming ../outside-secret.txt (digest updated) uploaded
    that file at the step's code URI; an artifact URI in another bucket uploaded there."""
    secret = tmp_path / "outside-secret.txt"
    secret.write_text("aws_secret_access_key = x\n")
    root = copy_example("abalone", tmp_path)
    _edit_first_bundle(root, _aim_at_secret(secret) if edit == "path" else _other_bucket)
    done = smpipe_in_process("apply", "-C", str(root), "--skip-check", "--yes")
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert done.stderr.startswith("error: pipeline/manifest.json: the code artifacts in manifest.json (S3 URIs, "
                                  "repository paths, digests) do not match the digest render recorded"), done.stderr


def test_apply_uploads_only_repository_files_to_the_pipeline_bucket(tmp_path):
    """Behind the seal, the same rules once more: a manifest sealed after the edit still uploads
    nothing from outside the repository, nor to another bucket."""
    from smpipe_gen import apply as deploy
    from smpipe_gen.manifest import Manifest
    from smpipe_gen.seal import sealed
    from smpipe_gen.project import Project

    secret = tmp_path / "outside-secret.txt"
    secret.write_text("aws_secret_access_key = x\n")
    root = copy_example("abalone", tmp_path)
    project = Project.at(root)
    for edit, expected in ((_aim_at_secret(secret), "../outside-secret.txt: code file '../outside-secret.txt' leads "
                                                     "outside abalone/"),
                           (_other_bucket, "code artifact is not in the pipeline's bucket smpipe-examples-123456789012")):
        copy = tmp_path / "edited"
        shutil.rmtree(copy, ignore_errors=True)
        shutil.copytree(root, copy)
        manifest = Manifest.from_json(_edit_first_bundle(copy, edit), "manifest.json")
        definition_text = (copy / "pipeline" / "definition.json").read_text()
        loaded = deploy.Loaded(project, sealed(manifest, definition_text), definition_text, json.loads(definition_text))
        with pytest.raises(SmpipeError) as caught:
            deploy.verify_sources(loaded)
        assert expected in caught.value.one_line()


def test_fuzz_found_configs_that_crashed_inside_the_sdk_are_refused_at_validate(tmp_path):
    """Two classes the render fuzzer found: a Processing section without entry_point (the SDK
    crashed packing code=None) and a Transform step with nothing to score (codegen raised)."""
    repo = copy_example("abalone", tmp_path)
    conf = repo / "conf" / "conf.yaml"
    text = conf.read_text()
    conf.write_text(text.replace("        entry_point: preprocess.py\n", "", 1)
                    .replace("            chain_input_source_step: [abalone-Preprocess]\n"
                             "            chain_input_additional_prefix: x_test.csv\n", ""))
    before = {p.name: p.read_bytes() for p in (repo / "pipeline").iterdir()}
    result = smpipe_in_process("render", "-C", str(repo))
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    assert re.search(r"conf/conf\.yaml:\d+: conf\.models\.abalone\.preprocess: Processing step 'abalone-Preprocess' "
                     r"has no script to run", result.stderr), result.stderr
    assert "Transform step 'abalone-Transform' has no data to score" in result.stderr
    assert {p.name: p.read_bytes() for p in (repo / "pipeline").iterdir()} == before


def test_every_part_of_an_error_line_is_bounded_whatever_a_check_puts_in_it():
    huge = "x" * 100_000
    line = SmpipeError(f"unknown step {huge!r}", where="conf/conf.yaml:3: conf.sagemakerPipeline",
                       hint=f"did you mean {huge!r}?").one_line()
    assert line.startswith("conf/conf.yaml:3: conf.sagemakerPipeline: unknown step 'xxx")
    assert len(line) < 800 and line.count("…") == 2


# ---------------------------------------------------------------- environment files

ENV_LINES = ENV_FILE.format(configpath="conf/conf.yaml")


@pytest.mark.parametrize("name", ["..", ".hidden", "a b", "x" * 64])
def test_an_environment_name_must_be_a_plain_directory_name(tmp_path, name):
    """``environments/...env`` rendered into the repository root, over files of those names."""
    repo = make_repo(tmp_path / "repo", BASE)
    write(repo / "environments" / f"{name}.env", ENV_LINES)
    done = smpipe_in_process("render", "-C", str(repo))
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert done.stderr.startswith(f"error: environments/{name[:79]}") and "is not allowed (hint: rename the file" \
        in done.stderr, done.stderr
    assert not (repo / "pipeline").exists() and not (repo / "definition.json").exists()


@pytest.mark.parametrize("content, expected", [
    (ENV_LINES.encode().replace(b"eu-west-1", b"eu-w\xe9st-1"), "env.env:2:24: not UTF-8: byte 0xe9 cannot be decoded"),
    (ENV_LINES.replace("role/Test", "role/Test\x1b[1A\x1b[2Kok"), "env.env:4:53: invalid character '\\x1b' (#x001b)"),
    (ENV_LINES.replace("test-bucket", "test\x07bucket"), "env.env:3:30: invalid character '\\x07'"),
    (ENV_LINES.replace("test-bucket", "test\x00bucket"), "env.env:3:30: NUL character in the file"),
    (ENV_LINES + 'export SMP_BIG="' + "x" * 1_100_000 + '"\n',
     "env.env: config file is too large (1,100,221 bytes; the limit is 1,048,576)"),
], ids=["latin-1", "escape", "bell", "nul", "size"])
def test_environment_files_obey_the_rules_of_config_text(tmp_path, content, expected):
    repo = make_repo(tmp_path, BASE)
    (repo / "env.env").write_bytes(content if isinstance(content, bytes) else content.encode())
    assert _refusals(repo).startswith(expected)


def test_an_environment_file_may_not_lead_out_of_the_repository(tmp_path):
    write(tmp_path / "home" / "credentials", ENV_LINES)
    repo = make_repo(tmp_path / "repo", BASE)
    (repo / "env.env").unlink()
    (repo / "env.env").symlink_to(tmp_path / "home" / "credentials")
    assert _refusals(repo).startswith("env.env: environment file 'env.env' leads outside repo/")
    (repo / "env.env").unlink()
    write(repo / "env.env", ENV_LINES)
    (repo / "environments").mkdir()
    (repo / "environments" / "dev.env").symlink_to(tmp_path / "home" / "credentials")
    assert "environments/dev.env: environment file 'environments/dev.env' leads outside repo/" in _refusals(repo)


def test_a_value_from_the_process_or_the_command_line_is_checked_like_config_text(tmp_path):
    repo = make_repo(tmp_path, BASE)
    message = _refusals(repo, {"SMP_ROLE": "arn:aws:iam::123456789012:role/Test\x1b]0;owned\x07"})
    assert message.startswith("environment: SMP_ROLE holds the invalid character '\\x1b' (#x001b)")


def test_quoted_values_are_read_in_linear_time_as_shlex_reads_them():
    """shlex built a quoted word one character at a time: 800 kB took 8 s, 10 MB 14 minutes."""
    import random
    import shlex

    from smpipe_gen.config.environment import shell_words

    started = time.monotonic()
    assert shell_words('"' + "x" * 1_000_000 + '" # comment') == ["x" * 1_000_000]
    assert time.monotonic() - started < 5
    pieces = ["a", " ", "\t", '"', "'", "\\", "#", "é", "x y", "\\\""]
    chooser = random.Random(24)
    for _ in range(20_000):
        text = "".join(chooser.choice(pieces) for _ in range(chooser.randrange(12)))
        try:
            expected = shlex.split(text, comments=True)
        except ValueError as error:
            expected = str(error)
        try:
            got = shell_words(text)
        except ValueError as error:
            got = str(error)
        assert got == expected, repr(text)


def test_plan_shows_control_characters_of_a_definition_escaped(tmp_path):
    """An escape sequence in a definition's string (an env value, a foreign or deployed
    definition) would rewrite the terminal line above the one ``plan`` prints it on."""
    root = copy_example("abalone", tmp_path)
    rendered = root / "pipeline" / "definition.json"
    rendered.write_text(rendered.read_text().replace("role/SageMakerPipelineExecution",
                                                     "role/SageMakerPipelineExecution\\u001b[1A\\u001b[2Kok\\u0007"))
    (tmp_path / "empty.json").write_text('{"Version": "2020-12-01", "Steps": []}')
    done = smpipe_in_process("plan", "-C", str(root), "--base-definition", str(tmp_path / "empty.json"))
    assert done.returncode == 2, done.stderr
    assert "role/SageMakerPipelineExecution\\x1b[1A\\x1b[2Kok\\x07" in done.stdout
    assert "\x1b" not in done.stdout and "\x07" not in done.stdout


# ---------------------------------------------------------------- whatever validate accepts renders

LINE_BREAKING = ["\u2028", "\u2029", "\x85", "\x0b", "\x0c", "\x1c"]


@pytest.mark.parametrize("char", LINE_BREAKING)
def test_definition_json_keeps_strings_with_characters_that_break_lines(char):
    from smpipe_gen.canonical import definition_json

    definition = {"Steps": [{"Name": "Gate", "Type": "Condition", "Arguments": {"IfSteps": [
        {"Name": "Stop", "Type": "Fail", "Arguments": {"ErrorMessage": f"a{char}b", f"k{char}": [f"{char}"]}}]}}]}
    assert json.loads(definition_json(definition)) == definition


def test_a_step_string_with_line_separators_renders(tmp_path):
    """U+2028, U+0085, \\v or \\f in a step string passed validate, then render ended in an
    AssertionError traceback (the step inside a condition's branch was indented line by line)."""
    root = copy_example("abalone", tmp_path)
    conf = root / "conf" / "conf.yaml"
    conf.write_text(conf.read_text().replace(
        "error_message: The model's test MSE is above MseThreshold; not registering it.",
        'error_message: "above\\L MseThreshold\\N\\v\\f"').replace("team: ml-platform", 'team: "ml\\Lplatform"'))
    done = smpipe_in_process("render", "-C", str(root))
    assert done.returncode == 0, done.stderr
    definition = json.loads((root / "pipeline" / "definition.json").read_text())
    assert "above\u2028 MseThreshold\x85\x0b\x0c" in {text for _key, text in strings(definition)}
    assert smpipe_in_process("check", "--full", "-C", str(root)).returncode == 0


def test_an_unusable_source_directory_is_one_line_at_validate(tmp_path):
    repo = make_repo(tmp_path, BASE.replace("source_directory: scripts", "source_directory: " + "s" * 300))
    message = _refusals(repo)
    assert message.startswith("conf/conf.yaml:4: conf.models.m.source_directory: source_directory 'sss")
    assert "is not a usable path (File name too long)" in message and len(message.splitlines()) == 1


def test_a_committed_link_into_git_or_local_state_is_not_bundled(tmp_path):
    """``scripts/settings.txt -> ../.git/config`` was shipped: the check looked at the link's name."""
    from smpipe_gen.paths import bundle_files

    repo = make_repo(tmp_path, BASE)
    git_repo = git.Repo.init(repo)
    write(repo / ".smpipe" / "cache" / "entry.json", "{}")
    write(repo / "pipeline" / "definition.json", "{}")
    links = {"settings.txt": "../.git/config", "state.json": "../.smpipe/cache/entry.json",
             "render.json": "../pipeline/definition.json", "same.py": "train.py"}
    for name, target in links.items():
        (repo / "scripts" / name).symlink_to(target)
    git_repo.index.add([f"scripts/{name}" for name in [*links, "train.py", "preprocess.py"]])
    git_repo.index.commit("links")
    assert bundle_files(repo, "scripts", [repo / "pipeline"]) == [
        "scripts/preprocess.py", "scripts/same.py", "scripts/train.py"]


def test_a_huge_source_an_entry_point_reaches_is_not_parsed(tmp_path, monkeypatch):
    """A 1 MB Python file reached by an entry point took 626 MB to parse, 4 MB 2.4 GB: a source
    over the cap ships the whole directory, as one that does not parse, and is never parsed."""
    from smpipe_gen.render import bundles

    write(tmp_path / "train.py", "import huge\n")
    write(tmp_path / "huge.py", "x = [" + "1, " * 200_000 + "]\n")
    write(tmp_path / "other" / "tool.py", "print('not reached')\n")
    parsed = []
    parse = bundles.ast.parse
    monkeypatch.setattr(bundles.ast, "parse", lambda source, filename: parsed.append(filename) or parse(source))
    files = ["huge.py", "other/tool.py", "train.py"]
    assert bundles.step_entries(tmp_path, files, "train.py") == ["huge.py", "other", "train.py"]
    assert parsed == ["train.py"]
    write(tmp_path / "huge.py", "x = 1\n")
    assert bundles.step_entries(tmp_path, files, "train.py") == ["huge.py", "train.py"]
