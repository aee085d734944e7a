"""The plan reaches the PR: one comment, found again by its hidden marker and its author, edited in
place; the token is never shown, never sent in clear text over a network, never follows a redirect
to another host; the body stays under GitHub's limit."""

from __future__ import annotations

import pytest

from github_fake import BOT, FakeGitHub
from smpipe_gen import github
from smpipe_gen.errors import SmpipeError

REPO_URL = "https://github.com/acme/churn-model.git"
KEY = ("acme/churn-model", 12)
STRANGER = {"id": 777, "login": "mallory"}
pytest_plugins = ["github_fake"]


def build_env(fake_github, **extra) -> dict[str, str]:
    return {"GITHUB_TOKEN": fake_github.token, "GITHUB_API_URL": fake_github.url, "CODEBUILD_SOURCE_REPO_URL": REPO_URL,
            "CODEBUILD_WEBHOOK_TRIGGER": "pr/12", **extra}


def test_comment_is_created_once_then_edited(fake_github):
    pr = github.pull_request(build_env(fake_github))
    assert (pr.repository, pr.number) == KEY
    fake_github.add(KEY, "LGTM", STRANGER)
    first = github.upsert_comment(pr, "### plan v1\n")
    second = github.upsert_comment(pr, "### plan v2\n")
    assert [c["body"] for c in fake_github.comments[KEY]] == ["LGTM", f"{github.MARKER}\n### plan v2\n"]
    assert first == second and first.endswith("#issuecomment-2")
    assert fake_github.requests.count("POST /repos/acme/churn-model/issues/12/comments") == 1
    assert fake_github.requests.count("PATCH /repos/acme/churn-model/issues/comments/2") == 1


def test_a_marker_someone_else_posted_is_never_edited(fake_github):
    """Anyone can post the marker first; the plan must not be written into their comment."""
    planted = fake_github.add(KEY, f"{github.MARKER}\nsee my plan", STRANGER)
    github.upsert_comment(github.pull_request(build_env(fake_github)), "the real plan")
    assert planted["body"] == f"{github.MARKER}\nsee my plan"
    ours = [c for c in fake_github.comments[KEY] if c["user"]["id"] == BOT["id"]]
    assert [c["body"] for c in ours] == [f"{github.MARKER}\nthe real plan"]


def test_marker_found_beyond_the_first_page(fake_github):
    for i in range(150):
        fake_github.add(KEY, f"c{i}", BOT)
    fake_github.comments[KEY][120]["body"] = f"{github.MARKER}\nold plan"
    github.upsert_comment(github.pull_request(build_env(fake_github)), "new plan")
    assert fake_github.comments[KEY][120]["body"].endswith("new plan")
    assert len(fake_github.comments[KEY]) == 150


@pytest.mark.parametrize(("change", "message"), [
    ({"GITHUB_TOKEN": ""}, "GITHUB_TOKEN is not set"),
    ({"GITHUB_TOKEN": " \n"}, "GITHUB_TOKEN is not set"),
    ({"CODEBUILD_WEBHOOK_TRIGGER": "branch/main"}, "not a pull request build"),
    ({"CODEBUILD_SOURCE_REPO_URL": "https://git-codecommit.us-east-1.amazonaws.com/v1/repos/x"}, "cannot tell"),
    ({"GITHUB_API_URL": "http://github.example.com/api/v3"}, "must be an https:// URL"),
    ({"GITHUB_API_URL": "ftp://127.0.0.1/"}, "must be an https:// URL"),
])
def test_misconfigured_build_is_refused(fake_github, change, message):
    with pytest.raises(SmpipeError, match=message):
        github.pull_request(build_env(fake_github, **change))


@pytest.mark.parametrize(("variables", "number"), [
    ({"CODEBUILD_WEBHOOK_TRIGGER": "pr/12"}, 12),
    ({"CODEBUILD_WEBHOOK_TRIGGER": "", "CODEBUILD_SOURCE_VERSION": "pr/31"}, 31),  # started by EventBridge
    ({"CODEBUILD_WEBHOOK_TRIGGER": "", "GITHUB_PR_NUMBER": "8"}, 8),
])
def test_the_pr_number_comes_from_the_build(fake_github, variables, number):
    assert github.pull_request(build_env(fake_github, **variables)).number == number


def test_a_token_stored_with_a_newline_works_and_is_never_printed(fake_github):
    pr = github.pull_request(build_env(fake_github, GITHUB_TOKEN=fake_github.token + "\n"))
    assert pr.token == fake_github.token and fake_github.token not in repr(pr)
    with pytest.raises(SmpipeError) as caught:
        github.pull_request(build_env(fake_github, GITHUB_TOKEN=f"{fake_github.token}\x1b[2Kforged"))
    assert fake_github.token not in caught.value.one_line() and "not shown" in caught.value.one_line()


def test_bad_token_is_one_line_error(fake_github):
    pr = github.pull_request(build_env(fake_github, GITHUB_TOKEN="wrong"))
    with pytest.raises(SmpipeError) as caught:
        github.upsert_comment(pr, "plan")
    assert "GitHub answered 401" in caught.value.one_line() and "acme/churn-model#12" in caught.value.one_line()


def test_the_token_follows_a_redirect_only_to_the_same_origin(fake_github):
    elsewhere = FakeGitHub()
    other = elsewhere.start()
    try:
        fake_github.redirects["/user"] = f"{fake_github.url}/users/moved"  # same origin: GitHub's renamed-resource 301
        fake_github.redirects["/users/moved"] = f"{other}/user"  # then off to another port: another origin
        with pytest.raises(SmpipeError, match="GitHub answered 401"):
            github.upsert_comment(github.pull_request(build_env(fake_github)), "plan")
        assert ("/users/moved", f"Bearer {fake_github.token}") in fake_github.seen_auth
        assert elsewhere.seen_auth == [("/user", None)]
    finally:
        elsewhere.stop()


def test_a_plan_over_the_limit_is_cut_per_environment_with_a_note():
    sections = [f"### smpipe-gen plan: environment {name}\n\n**1 step changed**\n\n```mermaid\n"
                + "\n".join(f"  step{i} --> step{i + 1}" for i in range(5000)) + "\n```\n" for name in ("dev", "prod")]
    body = github.fit(sections)
    assert len(body) <= github.BODY_LIMIT - 1024 < sum(map(len, sections))
    assert body.count("**1 step changed**") == 2 and body.count("environment ") == 2
    assert body.count("more characters of this plan are not shown") == 2 and body.count("```") % 2 == 0
    assert github.fit(["small"]) == "small"
