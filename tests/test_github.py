"""The plan reaches the PR: one comment, found again by its hidden marker and edited in place."""

from __future__ import annotations

import pytest

from github_fake import FakeGitHub
from smpipe_gen import github
from smpipe_gen.errors import SmpipeError

REPO_URL = "https://github.com/acme/churn-model.git"


@pytest.fixture
def fake():
    server = FakeGitHub()
    server.url = server.start()
    yield server
    server.stop()


def build_env(fake, **extra) -> dict[str, str]:
    return {"GITHUB_TOKEN": fake.token, "GITHUB_API_URL": fake.url, "CODEBUILD_SOURCE_REPO_URL": REPO_URL,
            "CODEBUILD_WEBHOOK_TRIGGER": "pr/12", **extra}


def test_comment_is_created_once_then_edited(fake):
    pr = github.pull_request(build_env(fake))
    assert (pr.repository, pr.number) == ("acme/churn-model", 12)
    fake.comments[("acme/churn-model", 12)] = [{"id": 99, "body": "LGTM", "html_url": "x"}]
    first = github.upsert_comment(pr, "### plan v1\n")
    second = github.upsert_comment(pr, "### plan v2\n")
    comments = fake.comments[("acme/churn-model", 12)]
    assert [c["body"] for c in comments] == ["LGTM", f"{github.MARKER}\n### plan v2\n"]
    assert first == second and first.endswith("#issuecomment-2")
    assert fake.requests.count("POST /repos/acme/churn-model/issues/12/comments") == 1
    assert fake.requests.count("PATCH /repos/acme/churn-model/issues/comments/2") == 1


def test_marker_found_beyond_the_first_page(fake):
    fake.comments[("acme/churn-model", 12)] = [{"id": i, "body": f"c{i}"} for i in range(1, 151)]
    fake.comments[("acme/churn-model", 12)][120]["body"] = f"{github.MARKER}\nold plan"
    github.upsert_comment(github.pull_request(build_env(fake)), "new plan")
    assert fake.comments[("acme/churn-model", 12)][120]["body"].endswith("new plan")
    assert len(fake.comments[("acme/churn-model", 12)]) == 150


@pytest.mark.parametrize(("change", "message"), [
    ({"GITHUB_TOKEN": ""}, "GITHUB_TOKEN is not set"),
    ({"CODEBUILD_WEBHOOK_TRIGGER": "branch/main"}, "not a pull request build"),
    ({"CODEBUILD_SOURCE_REPO_URL": "https://git-codecommit.us-east-1.amazonaws.com/v1/repos/x"}, "cannot tell"),
])
def test_misconfigured_build_is_refused(fake, change, message):
    with pytest.raises(SmpipeError, match=message):
        github.pull_request(build_env(fake, **change))


def test_bad_token_is_one_line_error(fake):
    pr = github.pull_request(build_env(fake, GITHUB_TOKEN="wrong"))
    with pytest.raises(SmpipeError) as caught:
        github.upsert_comment(pr, "plan")
    assert "GitHub answered 401" in caught.value.one_line() and "acme/churn-model#12" in caught.value.one_line()
