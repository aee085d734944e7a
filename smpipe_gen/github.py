"""Post the plan on the pull request as one comment, updated in place on every push.

The comment carries a hidden HTML marker; the next build finds it and edits it instead of adding
another. What it needs comes from the build's environment: ``GITHUB_TOKEN`` (in CodeBuild, from
Secrets Manager through the buildspec's ``env.secrets-manager``), the repository from
``CODEBUILD_SOURCE_REPO_URL`` (or ``GITHUB_REPOSITORY``), the PR number from
``CODEBUILD_WEBHOOK_TRIGGER=pr/N``, and ``GITHUB_API_URL`` (GitHub Enterprise, tests).
Stdlib only: CI installs nothing for it.
"""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any, Mapping

from smpipe_gen.errors import SmpipeError

MARKER = "<!-- smpipe-gen plan -->"
DEFAULT_API = "https://api.github.com"
_REPO_URL = re.compile(r"(?:https?://[^/]+/|git@[^:]+:)([\w.-]+/[\w.-]+?)(?:\.git)?/?$")


@dataclass(frozen=True)
class PullRequest:
    api: str
    repository: str  # owner/name
    number: int
    token: str


def pull_request(environ: Mapping[str, str]) -> PullRequest:
    """The PR this build is for, from the variables CodeBuild (or GitHub Actions) sets."""
    token = environ.get("GITHUB_TOKEN", "")
    if not token:
        raise SmpipeError("GITHUB_TOKEN is not set", where="plan --comment",
                          hint="give the build a token that may comment on PRs (CodeBuild: env.secrets-manager)")
    url = environ.get("CODEBUILD_SOURCE_REPO_URL", "")
    match = _REPO_URL.match(url)
    repository = match.group(1) if match else environ.get("GITHUB_REPOSITORY", "")
    if not re.fullmatch(r"[\w.-]+/[\w.-]+", repository):
        raise SmpipeError(f"cannot tell the GitHub repository from CODEBUILD_SOURCE_REPO_URL={url!r}",
                          where="plan --comment", hint="set GITHUB_REPOSITORY=owner/name")
    trigger = environ.get("CODEBUILD_WEBHOOK_TRIGGER", "")
    number = trigger[3:] if trigger.startswith("pr/") else environ.get("GITHUB_PR_NUMBER", "")
    if not number.isdigit():
        raise SmpipeError(f"not a pull request build (CODEBUILD_WEBHOOK_TRIGGER={trigger!r})",
                          where="plan --comment", hint="comment only from PR builds")
    return PullRequest(environ.get("GITHUB_API_URL") or DEFAULT_API, repository, int(number), token)


def _request(pr: PullRequest, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
    request = urllib.request.Request(
        pr.api.rstrip("/") + path, method=method, data=json.dumps(body).encode() if body is not None else None,
        headers={"Authorization": f"Bearer {pr.token}", "Accept": "application/vnd.github+json",
                 "X-GitHub-Api-Version": "2022-11-28", "Content-Type": "application/json",
                 "User-Agent": "smpipe-gen"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        detail = error.read().decode(errors="replace")[:200]
        raise SmpipeError(f"GitHub answered {error.code} to {method} {path}: {detail}",
                          where=f"{pr.repository}#{pr.number}",
                          hint="check that the token may read and write pull request comments") from None
    except (urllib.error.URLError, OSError, ValueError) as error:
        raise SmpipeError(f"cannot reach GitHub ({method} {path}): {error}", where=pr.api,
                          hint="check the network or GITHUB_API_URL") from None


def _existing(pr: PullRequest) -> dict[str, Any] | None:
    """The comment an earlier build posted (the first one with the marker), if any."""
    page = 1
    while True:
        comments = _request(pr, "GET", f"/repos/{pr.repository}/issues/{pr.number}/comments?per_page=100&page={page}")
        for comment in comments or []:
            if MARKER in (comment.get("body") or ""):
                return comment
        if not comments or len(comments) < 100:
            return None
        page += 1


def upsert_comment(pr: PullRequest, markdown: str) -> str:
    """Create the plan comment or edit the one already there; returns its URL."""
    body = f"{MARKER}\n{markdown}"
    found = _existing(pr)
    if found is None:
        posted = _request(pr, "POST", f"/repos/{pr.repository}/issues/{pr.number}/comments", {"body": body})
    else:
        posted = _request(pr, "PATCH", f"/repos/{pr.repository}/issues/comments/{found['id']}", {"body": body})
    return (posted or {}).get("html_url", "")
