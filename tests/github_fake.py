"""A fake of the few GitHub REST calls the plan comment makes (list, create and edit issue
comments), served over real HTTP on 127.0.0.1 for tests."""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

_LIST = re.compile(r"^/repos/([^/]+/[^/]+)/issues/(\d+)/comments(?:\?.*)?$")
_EDIT = re.compile(r"^/repos/([^/]+/[^/]+)/issues/comments/(\d+)$")


@dataclass
class FakeGitHub:
    token: str = "ghp-test-token"
    comments: dict[tuple[str, int], list[dict]] = field(default_factory=dict)
    requests: list[str] = field(default_factory=list)

    def start(self) -> str:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _answer(self, status: int, payload) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _body(self) -> dict:
                return json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")

            def _handle(self) -> None:
                fake.requests.append(f"{self.command} {self.path.split('?')[0]}")
                if self.headers.get("Authorization") != f"Bearer {fake.token}":
                    return self._answer(401, {"message": "Bad credentials"})
                listed, edited = _LIST.match(self.path), _EDIT.match(self.path)
                if listed and self.command == "GET":
                    found = re.search(r"[?&]page=(\d+)", self.path)
                    page = int(found.group(1)) if found else 1
                    items = fake.comments.get((listed.group(1), int(listed.group(2))), [])
                    return self._answer(200, items[(page - 1) * 100:page * 100])
                if listed and self.command == "POST":
                    key = (listed.group(1), int(listed.group(2)))
                    number = sum(len(v) for v in fake.comments.values()) + 1
                    comment = {"id": number, "body": self._body()["body"],
                               "html_url": f"https://github.example/{key[0]}/pull/{key[1]}#issuecomment-{number}"}
                    fake.comments.setdefault(key, []).append(comment)
                    return self._answer(201, comment)
                if edited and self.command == "PATCH":
                    for comment in (c for (repo, _n), v in fake.comments.items() if repo == edited.group(1)
                                    for c in v):
                        if comment["id"] == int(edited.group(2)):
                            comment["body"] = self._body()["body"]
                            return self._answer(200, comment)
                return self._answer(404, {"message": "Not Found"})

            do_GET = do_POST = do_PATCH = _handle

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
