"""Sending-stage benchmark: engine throughput with the delivery log committed, the cost of the
log's state transitions alone, and the pacer's accuracy in real time.

    .venv/bin/python bench/sending.py [--messages 2000]

The SMTP server is aiosmtpd in a *separate process* that accepts and discards everything, so
its Python does not share this process's CPU; on a 2-core machine it is still the bottleneck
of the end-to-end figure (issue 7 measures against a C sink).  Compare figures as ratios within
one run: the machine is shared and noisy.
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from distrib.config import LimitsConfig, SMTPConfig
from distrib.deliverylog import Begin, DeliveryLog, NewMessage, Outcome, State, apply_one, open_log
from distrib.send import Outgoing, send_messages

SINK = """
import sys, time
from aiosmtpd.controller import Controller

class Discard:
    async def handle_DATA(self, server, session, envelope):
        return "250 2.0.0 OK"

controller = Controller(Discard(), hostname="127.0.0.1", port=int(sys.argv[1]))
controller.start()
print("ready", flush=True)
sys.stdin.read()
controller.stop()
"""

BODY = (
    b"From: presse@quais.example\r\nTo: {to}\r\nSubject: Communique\r\n"
    b"Message-ID: <{n}@quais.example>\r\n\r\n" + b"Bonjour, voici le communique.\r\n" * 150
)


def plan(log: DeliveryLog, n: int) -> list[Outgoing]:
    run = log.create_run("bench", "bench.toml")
    log.add_messages(
        run.id,
        [NewMessage(key=f"k{i}", recipient=f"j{i}@r{i % 40}.example",
                    address=f"j{i}@r{i % 40}.example") for i in range(n)],
    )  # fmt: skip
    return [
        Outgoing(m.id, "presse@quais.example", m.address,
                 BODY.replace(b"{to}", m.address.encode()).replace(b"{n}", str(i).encode()),
                 f"<{i}@quais.example>")
        for i, m in enumerate(log.messages(run.id))
    ]  # fmt: skip


def engine(folder: Path, port: int, n: int, connections: int, rate: float = 0.0) -> float:
    """Send ``n`` messages; return messages per second (wall time of send_messages)."""
    with open_log(folder / f"engine-{connections}-{rate}.sqlite") as log:
        outgoing = plan(log, n)
        smtp = SMTPConfig(host="127.0.0.1", port=port, security="none")
        limits = LimitsConfig(
            rate=rate, connections=connections, messages_per_connection=0, retries=0
        )
        started = time.perf_counter()
        report = asyncio.run(
            send_messages(outgoing, log=log, smtp=smtp, limits=limits, password=None)
        )
        elapsed = time.perf_counter() - started
        assert report.sent == n, report
    return n / elapsed


def transitions(folder: Path, n: int) -> float:
    """Begin then Outcome(sent), each in a transaction of its own (no group commit), alone:
    messages per second the log can take that way."""
    with open_log(folder / "transitions.sqlite") as log:
        outgoing = plan(log, n)
        started = time.perf_counter()
        for out in outgoing:
            attempt = apply_one(log, Begin(out.message, "bench", log.now()))
            apply_one(log, Outcome(out.message, attempt, State.SENT, 250, "OK", log.now()))
        return n / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=2000)
    args = parser.parse_args()
    n = args.messages
    with socket.socket() as probe:  # a free port for the sink
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    sink = subprocess.Popen(
        [sys.executable, "-c", SINK, str(port)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert sink.stdout is not None
        assert sink.stdout.readline().strip() == "ready"
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            print(f"messages: {n} (each {len(BODY)} bytes), log: WAL + synchronous=FULL")
            rate = transitions(folder, n)
            print(f"log transitions alone (2 commits/message): {rate:8.0f} messages/s")
            for connections in (1, 4, 8):
                got = engine(folder, port, n, connections)
                print(f"engine, {connections} connection(s), no rate limit: {got:8.0f} messages/s")
            shm = Path("/dev/shm")
            if shm.is_dir():
                # The same sends with the log in memory: what the commits cost on this disk.
                with tempfile.TemporaryDirectory(dir=shm) as fast:
                    for connections in (1, 4):
                        got = engine(Path(fast), port, n, connections)
                        print(
                            f"engine, {connections} connection(s), log on tmpfs: {got:8.0f}"
                            " messages/s"
                        )
            for target in (50.0, 200.0):
                count = int(target * 3)  # three seconds' worth
                got = engine(folder, port, count, 4, rate=target)
                print(
                    f"rate = {target:g}/s, 4 connections, {count} messages: achieved {got:6.1f}/s"
                    f" ({got / target:.3f} of the target)"
                )
    finally:
        if sink.stdin is not None:
            sink.stdin.close()
        sink.wait(timeout=10)


if __name__ == "__main__":
    main()
