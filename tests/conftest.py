"""Shared fixtures.  Keep this small and generic: stage-specific helpers live in their own
modules (e.g. ``smtp_server.py``), imported lazily so unrelated tests never pay for them."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from smtp_server import SMTPTestServer, TLSFiles


@pytest.fixture(scope="session")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> TLSFiles:
    """A throw-away CA and its certificate file (trustme), shared by the session."""
    from smtp_server import TLSFiles

    return TLSFiles.create(Path(tmp_path_factory.mktemp("tls")))


@pytest.fixture
def make_smtp_server(tls_files: TLSFiles) -> Iterator[Callable[..., SMTPTestServer]]:
    """Start test SMTP servers (options as `smtp_server.SMTPTestServer`); all stop afterwards."""
    from smtp_server import SMTPTestServer

    servers: list[SMTPTestServer] = []

    def make(**options: Any) -> SMTPTestServer:
        if options.get("tls") is not None:
            options.setdefault("tls_files", tls_files)
        server = SMTPTestServer(**options).start()
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.stop()


@pytest.fixture
def smtp_server(make_smtp_server: Callable[..., SMTPTestServer]) -> SMTPTestServer:
    """A plaintext test SMTP server on 127.0.0.1 (SMTPUTF8 and 8BITMIME offered, no AUTH)."""
    return make_smtp_server()
