"""Real web servers for the browser-interface tests: `distrib ui`'s application and the
unsubscribe server on 127.0.0.1 (a free port), served by uvicorn in a thread."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from distrib.web.serving import Server
from distrib.web.workspace import UiSettings, create_app

TOKEN = "k" * 20 + "-access-key-for-tests"
AXE = Path(__file__).parent / "vendor" / "axe-core" / "axe.min.js"
_CLIENTS: dict[int, list[httpx.Client]] = {}


@contextmanager
def ui_server(workspace: Path, **options: Any) -> Iterator[Server]:
    """`distrib ui`'s application for ``workspace`` (access key `TOKEN` unless ``team``)."""
    options.setdefault("access_token", None if options.get("team") else TOKEN)
    server = Server(create_app(UiSettings(workspace=workspace, **options))).start()
    try:
        yield server
    finally:
        for client in _CLIENTS.pop(id(server), []):
            client.close()
        server.stop()


@contextmanager
def served(app: Any) -> Iterator[Server]:
    """Any ASGI ``app`` on 127.0.0.1."""
    server = Server(app).start()
    try:
        yield server
    finally:
        server.stop()


def signed_in(server: Server) -> httpx.Client:
    """A client that opened the address with the access key (it holds the session cookie)."""
    client = httpx.Client(base_url=server.url(), follow_redirects=False, timeout=120)
    _CLIENTS.setdefault(id(server), []).append(client)  # closed with the server
    answer = client.get(f"/?token={TOKEN}")
    assert answer.status_code == 303 and answer.headers["location"] == "/", answer.text
    return client


def csrf_of(html: str) -> str:
    """The CSRF token a page's forms carry."""
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found is not None, html
    return found.group(1)
