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
