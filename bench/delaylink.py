"""Messages per second on ONE connection over a link that looks like a real relay's.

    .venv/bin/python -m bench.delaylink                       # 3 rounds, 30 ms each way
    .venv/bin/python -m bench.delaylink --write-docs          # also the table in docs/benchmarks.md
    .venv/bin/python -m bench.delaylink proxy TARGET_PORT     # the delaying proxy alone

On 127.0.0.1 a round trip costs microseconds, so what decides the speed of a send there is CPU;
on the way to a real relay (another data centre, another continent) it costs tens of
milliseconds, and what decides the speed of one connection is how many round trips a message
costs.  This puts a **delaying TCP proxy** (asyncio, 127.0.0.1 only: every chunk read on one
side is written on the other ``--delay-ms`` later, in order) between the client and Postfix's
C ``smtp-sink``, and measures, on one connection each:

- **distrib, PIPELINING**: distrib's sending engine (``send_messages``, one connection, the
  delivery log committed on disk), the sink advertising PIPELINING (its default): MAIL FROM,
  RCPT TO and DATA in one write, then the body: two round trips a message;
- **distrib, no PIPELINING**: the same against ``smtp-sink -p`` (PIPELINING not advertised):
  MAIL FROM, RCPT TO, DATA and the body each wait for their reply: four round trips;
- **aiosmtplib (public API)**: ``SMTP.sendmail`` on one connection reused for every message,
  the sink advertising PIPELINING (aiosmtplib does not pipeline): four round trips, no log.

Every variant sends the same ``--messages`` messages of about 8 KB (the benchmark campaign's
average) and includes opening the session (greeting, EHLO) and QUIT.  The ratios are computed
within each round; figures are min / median / max over the rounds.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections import deque
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bench import tools

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "bench" / "out"
DOCS = REPO / "docs" / "benchmarks.md"
START, END = "<!-- delaylink:start -->", "<!-- delaylink:end -->"
SENDER = "presse@quais.example"
# About 8 KB, like the benchmark campaign's messages; quoted-printable-like lines.
BODY = (
    b"From: Presse <presse@quais.example>\r\nTo: {to}\r\nSubject: Communique\r\n"
    b"Message-ID: <{n}@quais.example>\r\nMIME-Version: 1.0\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\n\r\n"
    + b"Bonjour, voici le communiqu=C3=A9 de presse du quai des Brumes.\r\n"
    * 120
)


# -- the delaying proxy -------------------------------------------------------------------------


class _Side(asyncio.Protocol):
    """One end of a proxied connection: what it reads, its peer writes ``delay`` later."""

    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.loop = asyncio.get_running_loop()
        self.peer: _Side | None = None
        self.transport: asyncio.Transport | None = None
        self.queue: deque[tuple[float, bytes | None]] = deque()  # (when, data; None: close)
        self.timer: asyncio.TimerHandle | None = None
        self.closed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        transport.get_extra_info("socket").setsockopt(6, 1, 1)  # TCP_NODELAY
        self._flush()

    def data_received(self, data: bytes) -> None:
        if self.peer is not None:
            self.peer.later(data)

    def eof_received(self) -> bool:
        if self.peer is not None:
            self.peer.later(None)
        return True

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self.peer is not None:
            self.peer.later(None)

    def later(self, data: bytes | None) -> None:
        """Write ``data`` (None: close) ``delay`` seconds from now, after what is queued."""
        # The deadlines grow with the queue, so the bytes keep their order.
        self.queue.append((self.loop.time() + self.delay, data))
        if self.timer is None:
            self.timer = self.loop.call_at(self.queue[0][0], self._flush)

    def _flush(self) -> None:
        self.timer = None
        if self.transport is None:  # not connected yet (the upstream side): soon
            if self.queue:
                self.timer = self.loop.call_later(0.001, self._flush)
            return
        now = self.loop.time()
        while self.queue and self.queue[0][0] <= now:
            _, data = self.queue.popleft()
            if data is None:
                self.queue.clear()
                if not self.closed:
                    self.transport.close()
                return
            if not self.closed:
                self.transport.write(data)
        if self.queue:
            self.timer = self.loop.call_at(self.queue[0][0], self._flush)


async def serve_proxy(target_port: int, delay: float, ready: asyncio.Future[int]) -> None:
    """Accept on 127.0.0.1 (a free port, set in ``ready``) and forward to ``target_port``."""
    loop = asyncio.get_running_loop()
    connecting: set[asyncio.Task[None]] = set()

    def accepted() -> _Side:
        client = _Side(delay)
        server = _Side(delay)
        client.peer, server.peer = server, client

        async def connect() -> None:
            try:
                await loop.create_connection(lambda: server, "127.0.0.1", target_port)
            except OSError:
                if client.transport is not None:
                    client.transport.close()

        task = loop.create_task(connect())
        connecting.add(task)
        task.add_done_callback(connecting.discard)
        return client

    listener = await loop.create_server(accepted, "127.0.0.1", 0)
    ready.set_result(listener.sockets[0].getsockname()[1])
    async with listener:
        await listener.serve_forever()


def _proxy_main(target_port: int, delay_ms: float) -> None:
    async def main() -> None:
        loop = asyncio.get_running_loop()
        ready: asyncio.Future[int] = loop.create_future()
        task = loop.create_task(serve_proxy(target_port, delay_ms / 1000, ready))
        print(await ready, flush=True)
        # Serve until stdin closes (the parent is done, or gone).
        await loop.run_in_executor(None, sys.stdin.read)
        task.cancel()

    asyncio.run(main())


@contextlib.contextmanager
def proxy(target_port: int, delay_ms: float) -> Iterator[int]:
    """Run the delaying proxy in its own process; yield its port."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "bench.delaylink", "proxy", str(target_port),
         "--delay-ms", str(delay_ms)],
        cwd=REPO, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        yield int(proc.stdout.readline())
    finally:
        if proc.stdin is not None:
            proc.stdin.close()
        proc.wait(timeout=10)


# -- the clients --------------------------------------------------------------------------------


def _message(i: int) -> tuple[str, bytes]:
    to = f"j{i}@r{i % 40}.example"
    return to, BODY.replace(b"{to}", to.encode()).replace(b"{n}", str(i).encode())


def distrib_rate(port: int, n: int, folder: Path) -> float:
    """distrib's sending engine on one connection: messages per second."""
    from distrib.config import LimitsConfig, SMTPConfig
    from distrib.deliverylog import NewMessage, open_log
    from distrib.send import Outgoing, send_messages

    path = folder / f"log-{time.monotonic_ns()}.sqlite"
    with open_log(path) as log:
        run = log.create_run("bench", "bench.toml")
        made = [_message(i) for i in range(n)]
        log.add_messages(run.id, [NewMessage(key=to, recipient=to, address=to) for to, _ in made])
        outgoing = [
            Outgoing(row.id, SENDER, row.address, data, f"<{i}@quais.example>")
            for i, (row, (_, data)) in enumerate(zip(log.messages(run.id), made, strict=True))
        ]
        smtp = SMTPConfig(host="127.0.0.1", port=port, security="none", timeout=30)
        limits = LimitsConfig(rate=0, connections=1, messages_per_connection=0, retries=0)
        started = time.perf_counter()
        report = asyncio.run(
            send_messages(outgoing, log=log, smtp=smtp, limits=limits, password=None)
        )
        seconds = time.perf_counter() - started
    if report.sent != n:
        raise SystemExit(f"bench: distrib sent {report.sent} of {n}: {report}")
    return n / seconds


def aiosmtplib_rate(port: int, n: int) -> float:
    """aiosmtplib's public API, one connection reused for every message: messages per second."""
    import aiosmtplib

    async def send() -> None:
        client = aiosmtplib.SMTP(
            hostname="127.0.0.1", port=port, use_tls=False, start_tls=False, timeout=30
        )
        await client.connect()
        for i in range(n):
            to, data = _message(i)
            await client.sendmail(SENDER, [to], data)
        await client.quit()

    started = time.perf_counter()
    asyncio.run(send())
    return n / (time.perf_counter() - started)


def round_trip(port: int, times: int = 5) -> float:
    """The link's round trip (NOOP, aiosmtplib's public API), median of ``times``, seconds."""
    import aiosmtplib

    async def measure() -> float:
        client = aiosmtplib.SMTP(hostname="127.0.0.1", port=port, start_tls=False, timeout=30)
        await client.connect()
        found = []
        for _ in range(times):
            started = time.perf_counter()
            await client.noop()
            found.append(time.perf_counter() - started)
        await client.quit()
        return statistics.median(found)

    return asyncio.run(measure())


VARIANTS = ("distrib_pipelining", "distrib_no_pipelining", "aiosmtplib")
LABELS = {
    "distrib_pipelining": "distrib, server offers PIPELINING",
    "distrib_no_pipelining": "distrib, server without PIPELINING (`smtp-sink -p`)",
    "aiosmtplib": "aiosmtplib `SMTP.sendmail`, one reused connection",
}


def measure(messages: int, rounds: int, delay_ms: float) -> dict[str, Any]:
    """Run the comparison; return the results (also for the harness)."""
    sink, _ = tools.postfix_tools()
    found: list[dict[str, float]] = []
    with (
        tools.smtp_sink(sink) as piped,
        tools.smtp_sink(sink, "-p") as unpiped,
        proxy(piped, delay_ms) as via_piped,
        proxy(unpiped, delay_ms) as via_unpiped,
        tempfile.TemporaryDirectory() as tmp,
    ):
        rtt = round_trip(via_piped)
        tools.say(f"delayed link: round trip {rtt * 1000:.1f} ms")
        for index in range(1, rounds + 1):
            row = {
                "distrib_pipelining": distrib_rate(via_piped, messages, Path(tmp)),
                "distrib_no_pipelining": distrib_rate(via_unpiped, messages, Path(tmp)),
                "aiosmtplib": aiosmtplib_rate(via_piped, messages),
            }
            row["vs_no_pipelining"] = row["distrib_pipelining"] / row["distrib_no_pipelining"]
            row["vs_aiosmtplib"] = row["distrib_pipelining"] / row["aiosmtplib"]
            tools.say(f"delayed link round {index}: " + ", ".join(f"{k} {v:.2f}" for k, v in
                                                                   row.items()))  # fmt: skip
            found.append(row)
    return {
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "messages": messages,
        "delay_ms": delay_ms,
        "round_trip_ms": rtt * 1000,
        "size": len(_message(0)[1]),
        "rounds": found,
    }


def _mmm(values: list[float], spec: str, unit: str = "") -> str:
    lo, mid, hi = min(values), statistics.median(values), max(values)
    return f"{lo:{spec}}{unit} / **{mid:{spec}}{unit}** / {hi:{spec}}{unit}"


def markdown(results: dict[str, Any], command: str) -> str:
    rounds = results["rounds"]
    col = {k: [r[k] for r in rounds] for k in rounds[0]}
    rtt = results["round_trip_ms"]
    lines = [
        f"Measured {results['date']} with `{command}`: {results['delay_ms']:g} ms each way"
        f" (round trip measured {rtt:.1f} ms), {results['messages']} messages of"
        f" {results['size']:,} bytes per connection, {len(rounds)} rounds; min / **median** /"
        " max.",
        "",
        "| Client, one connection | msg/s | round trips a message (expected) |",
        "|---|---|---|",
        f"| {LABELS['distrib_pipelining']} | {_mmm(col['distrib_pipelining'], '.2f')} |"
        f" 2 (≈ {1000 / (2 * rtt):.2f} msg/s) |",
        f"| {LABELS['distrib_no_pipelining']} | {_mmm(col['distrib_no_pipelining'], '.2f')} |"
        f" 4 (≈ {1000 / (4 * rtt):.2f} msg/s) |",
        f"| {LABELS['aiosmtplib']} | {_mmm(col['aiosmtplib'], '.2f')} |"
        f" 4 (≈ {1000 / (4 * rtt):.2f} msg/s) |",
        f"| pipelined ÷ not pipelined (same round) | {_mmm(col['vs_no_pipelining'], '.2f', '×')}"
        " | |",
        f"| pipelined ÷ aiosmtplib (same round) | {_mmm(col['vs_aiosmtplib'], '.2f', '×')} | |",
        "",
        "| Round | " + " | ".join(LABELS[v].split(" (")[0] for v in VARIANTS) + " | ÷ not"
        " pipelined | ÷ aiosmtplib |",
        "|---|---|---|---|---|---|",
    ]
    for i, r in enumerate(rounds, 1):
        lines.append(
            f"| {i} | " + " | ".join(f"{r[v]:.2f}" for v in VARIANTS)
            + f" | {r['vs_no_pipelining']:.2f}× | {r['vs_aiosmtplib']:.2f}× |"
        )  # fmt: skip
    return "\n".join(lines) + "\n"


def write_docs(text: str) -> None:
    docs = DOCS.read_text(encoding="utf-8")
    if START in docs and END in docs:
        head, _, rest = docs.partition(START)
        _, _, tail = rest.partition(END)
        DOCS.write_text(f"{head}{START}\n{text}{END}{tail}", encoding="utf-8")
    else:
        tools.say(f"bench: no delaylink markers in {DOCS}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="mode")
    alone = sub.add_parser("proxy", help="run the delaying proxy alone (prints its port)")
    alone.add_argument("target_port", type=int)
    alone.add_argument("--delay-ms", type=float, default=30.0)
    parser.add_argument("--messages", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--delay-ms", type=float, default=30.0)
    parser.add_argument("--write-docs", action="store_true")
    args = parser.parse_args()
    if args.mode == "proxy":
        _proxy_main(args.target_port, args.delay_ms)
        return
    command = "python -m bench.delaylink " + " ".join(sys.argv[1:])
    results = measure(args.messages, args.rounds, args.delay_ms)
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "delaylink.json").write_text(json.dumps(results, indent=2))
    text = markdown(results, command.strip())
    print(text)
    if args.write_docs:
        write_docs(text)


if __name__ == "__main__":
    main()
