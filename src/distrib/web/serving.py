"""Running an ASGI application with uvicorn on a socket bound first (so a free port, ``0``, is
known before anything is printed), in the foreground or in a thread.

No request is logged: an address may hold an access key or an unsubscribe token.
"""

from __future__ import annotations

import ipaddress
import socket
import threading
import time
from typing import Any

import uvicorn

from distrib.errors import InvalidRequestError

__all__ = ["Server", "is_loopback"]


def is_loopback(host: str) -> bool:
    """Whether ``host`` is this machine only (127.0.0.0/8, ::1, localhost)."""
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class Server:
    """``app`` served on ``host``:``port`` (``0``: a free port)."""

    def __init__(self, app: Any, host: str = "127.0.0.1", port: int = 0) -> None:
        family = socket.AF_INET6 if ":" in host.strip("[]") else socket.AF_INET
        # IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY only on accepted sockets whose protocol
        # says TCP; without it a response's body waits ~40 ms for the client's delayed ACK.
        self.socket = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            self.socket.bind((host.strip("[]"), port))
        except OSError as exc:
            self.socket.close()
            raise InvalidRequestError(
                f"cannot listen on {host}:{port}: {exc.strerror or exc}"
            ) from None
        self.socket.listen(128)
        self.host = host
        config = uvicorn.Config(
            app,
            log_config=None,
            log_level="warning",
            access_log=False,
            lifespan="off",
            server_header=False,
        )
        self._server = uvicorn.Server(config)
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        """The port the server listens on."""
        return int(self.socket.getsockname()[1])

    def url(self, host: str | None = None) -> str:
        """The server's base address (``host``: the name to show instead of the bound one)."""
        shown = host or self.host
        if ":" in shown and not shown.startswith("["):
            shown = f"[{shown}]"
        return f"http://{shown}:{self.port}/"

    def serve(self) -> None:
        """Serve until Ctrl-C (uvicorn stops gracefully on SIGINT/SIGTERM)."""
        try:
            self._server.run(sockets=[self.socket])
        except KeyboardInterrupt:  # uvicorn stops gracefully, then raises the signal again
            pass
        finally:
            self.socket.close()

    def start(self) -> Server:
        """Serve in a background thread; return once the server accepts requests."""
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self.socket]}, daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + 30
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the web server did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        """Stop a server started with `start`."""
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=30)
        self.socket.close()
