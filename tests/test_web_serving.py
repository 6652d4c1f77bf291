"""`distrib.web.serving.Server`: the socket it binds, and how its connections are set up."""

from __future__ import annotations

import asyncio
import socket

from distrib.web.serving import Server


async def _accepted_nodelay(server: Server) -> int:
    """Accept one connection on ``server``'s socket as uvicorn does (asyncio's
    ``create_server(sock=...)``) and read TCP_NODELAY on the accepted socket."""
    found: asyncio.Future[int] = asyncio.get_running_loop().create_future()

    class Probe(asyncio.Protocol):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            sock = transport.get_extra_info("socket")
            found.set_result(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
            transport.close()

    listening = await asyncio.get_running_loop().create_server(Probe, sock=server.socket)
    try:
        _reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        value = await found
        writer.close()
        return value
    finally:
        listening.close()


def test_accepted_connections_send_at_once() -> None:
    """A response's headers and body go out in two writes; without TCP_NODELAY the body waits
    for the client's delayed ACK (about 40 ms on every request of a kept-alive connection).
    asyncio sets it only on sockets it sees as TCP, so the bound socket must say so."""
    server = Server(object())
    try:
        assert asyncio.run(_accepted_nodelay(server)) != 0
    finally:
        server.socket.close()


def test_a_warm_server_has_compiled_every_page_before_its_first_request() -> None:
    """`distrib ui` warms its application (`create_app(..., warm=True)`) before it prints its
    address: every page compiled in the application's own environment, once."""
    from pathlib import Path

    from distrib.web import pages

    folder = Path(pages.__file__).with_name("templates")
    every = {p.relative_to(folder).as_posix() for p in folder.rglob("*.html")}
    templates = pages.make_templates()
    assert templates.env.cache is not None and len(templates.env.cache) == 0
    assert set(pages.warm_templates(templates)) == every
    compiled = {name for _, name in templates.env.cache}
    assert {"preview.html", "base.html"} <= compiled == every
