"""Post the plan on the pull request as one comment, updated in place on every push.

The comment carries a hidden HTML marker; the next build finds the comment with the marker that
the token's own identity wrote and edits it instead of adding another (anyone can post a comment
holding the marker: such a comment is never edited). What it needs comes from the build's
environment: ``GITHUB_TOKEN`` (in CodeBuild, from Secrets Manager, only in the project that runs
no pull-request code), the repository from ``CODEBUILD_SOURCE_REPO_URL`` (or ``GITHUB_REPOSITORY``),
the PR number from ``CODEBUILD_WEBHOOK_TRIGGER`` or ``CODEBUILD_SOURCE_VERSION`` (``pr/N``) or
``GITHUB_PR_NUMBER``, and ``GITHUB_API_URL`` (GitHub Enterprise, tests).
Stdlib only: CI installs nothing for it.
"""

from __future__ import annotations

import ipaddress
import json
import re
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any, Mapping

from smpipe_gen.errors import SmpipeError

MARKER = "<!-- smpipe-gen plan -->"
DEFAULT_API = "https://api.github.com"
# GitHub refuses an issue comment body over 65,536 characters; the margin covers the marker,
# the notes above the plan and what a cut section says about itself.
BODY_LIMIT = 65_536
_MARGIN = 1_024
_REPO_URL = re.compile(r"(?:https?://[^/]+/|git@[^:]+:)([\w.-]+/[\w.-]+?)(?:\.git)?/?$")
_WHERE = "plan --comment"


@dataclass(frozen=True)
class PullRequest:
    api: str
    repository: str  # owner/name
    number: int
    token: str

    def __repr__(self) -> str:  # never the token, whatever prints this
        return f"PullRequest({self.api!r}, {self.repository!r}, {self.number})"


def _token(environ: Mapping[str, str]) -> str:
    """GITHUB_TOKEN without surrounding whitespace (a secret stored with a trailing newline);
    one holding any other control or space character is refused without showing it."""
    token = environ.get("GITHUB_TOKEN", "").strip()
    if not token:
        raise SmpipeError("GITHUB_TOKEN is not set", where=_WHERE,
                          hint="only the project that posts the plan gets the token (CodeBuild: a SECRETS_MANAGER "
                               "environment variable)")
    if any(not character.isprintable() or character.isspace() for character in token):
        raise SmpipeError("GITHUB_TOKEN holds a control or space character (not shown)", where=_WHERE,
                          hint="store the token alone in the secret, without quotes or line breaks")
    return token


def _api_url(environ: Mapping[str, str]) -> str:
    """GITHUB_API_URL (default api.github.com): HTTPS, or plain HTTP to this machine only (tests,
    a local proxy): the token must never cross a network in clear text."""
    url = (environ.get("GITHUB_API_URL") or DEFAULT_API).rstrip("/")
    parsed = urllib.parse.urlsplit(url)
    if parsed.scheme == "https" and parsed.hostname:
        return url
    if parsed.scheme == "http" and _is_loopback(parsed.hostname or ""):
        return url
    raise SmpipeError(f"GITHUB_API_URL must be an https:// URL (got {url[:80]!r})", where=_WHERE,
                      hint="use https://api.github.com or your GitHub Enterprise https://<host>/api/v3")


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _number(environ: Mapping[str, str]) -> int:
    for variable in ("CODEBUILD_WEBHOOK_TRIGGER", "CODEBUILD_SOURCE_VERSION"):
        match = re.fullmatch(r"pr/(\d+)", environ.get(variable, ""))
        if match:
            return int(match[1])
    number = environ.get("GITHUB_PR_NUMBER", "")
    if number.isdigit():
        return int(number)
    trigger = environ.get("CODEBUILD_WEBHOOK_TRIGGER", "")
    raise SmpipeError(f"not a pull request build (CODEBUILD_WEBHOOK_TRIGGER={trigger[:80]!r})", where=_WHERE,
                      hint="comment only from PR builds (source version pr/N)")


def pull_request(environ: Mapping[str, str]) -> PullRequest:
    """The PR this build is for, from the variables CodeBuild (or GitHub Actions) sets."""
    token = _token(environ)
    url = environ.get("CODEBUILD_SOURCE_REPO_URL", "")
    match = _REPO_URL.match(url)
    repository = match.group(1) if match else environ.get("GITHUB_REPOSITORY", "")
    if not re.fullmatch(r"[\w.-]+/[\w.-]+", repository):
        raise SmpipeError(f"cannot tell the GitHub repository from CODEBUILD_SOURCE_REPO_URL={url[:80]!r}",
                          where=_WHERE, hint="set GITHUB_REPOSITORY=owner/name")
    return PullRequest(_api_url(environ), repository, _number(environ), token)


class _SameOriginRedirects(urllib.request.HTTPRedirectHandler):
    """Follow redirects (GitHub moves renamed repositories), but send the token only to the
    origin it was given for: a redirect to another host, port or scheme goes without it."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):  # noqa: ANN001 (urllib's signature)
        new = super().redirect_request(req, fp, code, msg, headers, newurl)
        if new is not None and _origin(newurl) != _origin(req.full_url):
            new.remove_header("Authorization")
        return new


def _origin(url: str) -> tuple[str, str, int | None]:
    parsed = urllib.parse.urlsplit(url)
    return parsed.scheme, (parsed.hostname or "").lower(), parsed.port


_OPENER = urllib.request.build_opener(_SameOriginRedirects)


def _request(pr: PullRequest, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
    request = urllib.request.Request(
        pr.api + path, method=method, data=json.dumps(body).encode() if body is not None else None,
        headers={"Authorization": f"Bearer {pr.token}", "Accept": "application/vnd.github+json",
                 "X-GitHub-Api-Version": "2022-11-28", "Content-Type": "application/json",
                 "User-Agent": "smpipe-gen"})
    try:
        with _OPENER.open(request, timeout=30) as response:
            return json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        detail = " ".join(error.read().decode(errors="replace")[:200].split())
        raise SmpipeError(f"GitHub answered {error.code} to {method} {path}: {detail}",
                          where=f"{pr.repository}#{pr.number}",
                          hint="check that the token may read and write pull request comments") from None
    except (urllib.error.URLError, OSError, ValueError) as error:
        raise SmpipeError(f"cannot reach GitHub ({method} {path}): {error}", where=pr.api,
                          hint="check the network or GITHUB_API_URL") from None


def _identity(pr: PullRequest) -> int:
    """The numeric id of the account the token acts as (ids, unlike logins, are never reused)."""
    user = _request(pr, "GET", "/user")
    if not isinstance(user, dict) or not isinstance(user.get("id"), int):
        raise SmpipeError("GitHub did not say who the token belongs to (GET /user)", where=f"{pr.repository}#{pr.number}",
                          hint="use a token of a user or bot account (a fine-grained personal access token)")
    return user["id"]


def _existing(pr: PullRequest, author: int) -> dict[str, Any] | None:
    """The comment an earlier build posted: the first one with the marker written by ``author``."""
    page = 1
    while True:
        comments = _request(pr, "GET", f"/repos/{pr.repository}/issues/{pr.number}/comments?per_page=100&page={page}")
        for comment in comments or []:
            if MARKER in (comment.get("body") or "") and (comment.get("user") or {}).get("id") == author:
                return comment
        if not comments or len(comments) < 100:
            return None
        page += 1


def fit(sections: list[str], limit: int = BODY_LIMIT - _MARGIN) -> str:
    """The sections (one per environment) joined, each cut to an equal share of ``limit`` when
    together they are longer: every environment keeps its heading and summary (they come first)
    and says how much of it was cut and where the whole plan is."""
    whole = "\n".join(sections)
    if len(whole) <= limit or not sections:
        return whole
    share = limit // len(sections)
    return "\n".join(section if len(section) <= share else _cut(section, share) for section in sections)


def _cut(section: str, size: int) -> str:
    note_room = 300
    kept, used = [], 0
    for line in section.splitlines():
        if used + len(line) + 1 > size - note_room:
            break
        kept.append(line)
        used += len(line) + 1
    if sum(line.startswith("```") for line in kept) % 2:
        kept.append("```")  # close a code block the cut left open
    kept += ["</details>"] * (sum("<details>" in line for line in kept) - sum("</details>" in line for line in kept))
    cut = len(section) - used
    kept += ["", f"_… {cut:,} more characters of this plan are not shown (a comment holds at most "
                 f"{BODY_LIMIT:,}): the whole plan is in the build log and its plan-report.md._", ""]
    return "\n".join(kept)


def upsert_comment(pr: PullRequest, markdown: str) -> str:
    """Create the plan comment or edit the one this token's identity posted; returns its URL."""
    body = f"{MARKER}\n{markdown}"
    found = _existing(pr, _identity(pr))
    if found is None:
        posted = _request(pr, "POST", f"/repos/{pr.repository}/issues/{pr.number}/comments", {"body": body})
    else:
        posted = _request(pr, "PATCH", f"/repos/{pr.repository}/issues/comments/{found['id']}", {"body": body})
    return (posted or {}).get("html_url", "")
