"""A small sending process for the crash tests: the library's resume path, nothing else.

    python crash_driver.py LOG PORT CONNECTIONS

Takes the campaign's lease, recovers the latest run of LOG (``sending`` → ready, ``data`` →
unknown), and sends what is pending to 127.0.0.1:PORT.  Set ``DISTRIB_CRASH_AT`` to crash at a
named point (`distrib.send.crash`), or have the test server SIGKILL it when it reads a chosen
command (`crash_helpers.Killer`).  The tests fork it from a server that has imported the
sending stage already (`crash_helpers.driver_process`), so each one starts in milliseconds.
"""

from __future__ import annotations

import asyncio
import sys

from distrib.config import LimitsConfig, SMTPConfig
from distrib.deliverylog import open_log
from distrib.deliverylog.lease import HEARTBEAT_EVERY, acquire_lease
from distrib.send import Outgoing, send_messages

SENDER = "presse@quais.example"


def body(address: str, message_id: str) -> bytes:
    """The message for ``address``: small, real, always the same bytes."""
    return (
        f"From: {SENDER}\r\nTo: {address}\r\nSubject: Communique\r\n"
        f"Message-ID: {message_id}\r\n\r\nBonjour,\r\n.a line with a dot\r\n"
    ).encode()


def main(argv: list[str]) -> int:
    path, port, connections = argv[1], int(argv[2]), int(argv[3])
    smtp = SMTPConfig(
        host="127.0.0.1", port=port, security="none", timeout=5, data_timeout=5,
        local_hostname="client.test",
    )  # fmt: skip
    limits = LimitsConfig(rate=0, connections=connections, retries=0, retry_delay=0, pause_after=0)
    with open_log(path, create=False) as log:
        run = log.runs()[-1]
        with acquire_lease(log, run.campaign, run_id=run.id) as lease:
            log.recover(run.id)
            outgoing = [
                Outgoing(r.id, SENDER, r.address, body(r.address, f"<{r.key}@quais.example>"),
                         f"<{r.key}@quais.example>")
                for r in log.to_send(run.id)
            ]  # fmt: skip
            report = asyncio.run(
                send_messages(
                    outgoing, log=log, smtp=smtp, limits=limits, password=None,
                    heartbeat=lease.renew, heartbeat_every=HEARTBEAT_EVERY,
                )
            )  # fmt: skip
    print(f"sent {report.sent} unknown {report.unknown}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
