"""A fake of the few GitHub REST calls the plan comment makes (who am I, list, create and edit
issue comments), served over real HTTP on 127.0.0.1 for tests. Comments carry their author as
GitHub's do (``user.id``, ``user.login``); ``redirects`` answers a path with a 301 elsewhere, and
every request's Authorization header is kept in ``seen_auth``."""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

_LIST = re.compile(r"^/repos/([^/]+/[^/]+)/issues/(\d+)/comments(?:\?.*)?$")
_EDIT = re.compile(r"^/repos/([^/]+/[^/]+)/issues/comments/(\d+)$")
BOT = {"id": 4242, "login": "ci-bot"}


@dataclass
class FakeGitHub:
    token: str = "ghp-test-token"
    user: dict = field(default_factory=lambda: dict(BOT))  # whom ``token`` belongs to
    comments: dict[tuple[str, int], list[dict]] = field(default_factory=dict)
    requests: list[str] = field(default_factory=list)
    redirects: dict[str, str] = field(default_factory=dict)  # path -> Location of a 301
    seen_auth: list[tuple[str, str | None]] = field(default_factory=list)  # (path, Authorization)

    def start(self) -> str:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _answer(self, status: int, payload, headers: dict | None = None) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                for name, value in {"Content-Type": "application/json", **(headers or {})}.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _body(self) -> dict:
                return json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")

            def _handle(self) -> None:
                path = self.path.split("?")[0]
                fake.requests.append(f"{self.command} {path}")
                fake.seen_auth.append((path, self.headers.get("Authorization")))
                if path in fake.redirects:
                    return self._answer(301, {"message": "Moved Permanently"}, {"Location": fake.redirects[path]})
                if self.headers.get("Authorization") != f"Bearer {fake.token}":
                    return self._answer(401, {"message": "Bad credentials"})
                listed, edited = _LIST.match(self.path), _EDIT.match(self.path)
                if path == "/user" and self.command == "GET":
                    return self._answer(200, fake.user)
                if listed and self.command == "GET":
                    found = re.search(r"[?&]page=(\d+)", self.path)
                    page = int(found.group(1)) if found else 1
                    items = fake.comments.get((listed.group(1), int(listed.group(2))), [])
                    return self._answer(200, items[(page - 1) * 100:page * 100])
                if listed and self.command == "POST":
                    key = (listed.group(1), int(listed.group(2)))
                    return self._answer(201, fake.add(key, self._body()["body"], fake.user))
                if edited and self.command == "PATCH":
                    for comment in (c for (repo, _n), v in fake.comments.items() if repo == edited.group(1)
                                    for c in v):
                        if comment["id"] == int(edited.group(2)):
                            comment["body"] = self._body()["body"]
                            return self._answer(200, comment)
                return self._answer(404, {"message": "Not Found"})

            do_GET = do_POST = do_PATCH = _handle

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        # a short poll: stop() returns at once instead of after serve_forever's default half second
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def add(self, key: tuple[str, int], body: str, user: dict) -> dict:
        """A comment on PR ``key`` written by ``user``, as GitHub stores it."""
        number = max((c["id"] for v in self.comments.values() for c in v), default=0) + 1
        comment = {"id": number, "body": body, "user": dict(user),
                   "html_url": f"https://github.example/{key[0]}/pull/{key[1]}#issuecomment-{number}"}
        self.comments.setdefault(key, []).append(comment)
        return comment

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def fake_github():
    """A FakeGitHub on loopback for one test (``.url``: its API URL). Modules load it with
    ``pytest_plugins = ["github_fake"]``."""
    server = FakeGitHub()
    server.url = server.start()
    yield server
    server.stop()
