"""Global, quota and per-domain limits: exact with an injected clock, tolerant in real time."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from distrib.config import LimitsConfig
from distrib.deliverylog import DeliveryLog, open_log
from distrib.send import Pacer, Progress, SendReport, Window, send_messages
from smtp_server import SMTPTestServer, plan_messages


def drain(pacer: Pacer, domains: list[str], start: float = 0.0) -> list[tuple[str, float]]:
    """Send every message as soon as the pacer allows (a perfect single worker)."""
    queue, now, sent = list(domains), start, []
    while queue:
        picked = pacer.pick(queue, now)
        if isinstance(picked, tuple):
            index, at = picked
            now = at
            sent.append((queue.pop(index), at))
        else:
            now = picked
    return sent


def times(sent: list[tuple[str, float]]) -> list[float]:
    return [round(t, 9) for _, t in sent]


def test_rate_spaces_messages_exactly_even_below_one_second() -> None:
    assert times(drain(Pacer(rate=4), ["d"] * 5)) == [0, 0.25, 0.5, 0.75, 1.0]
    assert times(drain(Pacer(rate=0.4), ["d"] * 3)) == [0, 2.5, 5.0]


def test_burst_goes_at_once_then_the_rate_applies() -> None:
    assert times(drain(Pacer(rate=10, burst=3), ["d"] * 5)) == [0, 0, 0, 0.1, 0.2]


def test_a_quota_window_lets_the_quota_through_then_waits_for_the_oldest_to_age() -> None:
    w = Window(3, 60.0)
    sent = []
    now = 0.0
    for _ in range(7):
        at = w.ready_at(now)
        w.commit(at)
        sent.append(at)
        now = at + 1.0  # one second of work each
    assert sent == [0, 1, 2, 60, 61, 62, 120]


@settings(max_examples=60, deadline=None)
@given(
    count=st.integers(1, 8),
    period=st.floats(0.5, 30),
    gaps=st.lists(st.floats(0, 5), min_size=1, max_size=60),
)
def test_a_quota_is_never_exceeded_in_any_window(
    count: int, period: float, gaps: list[float]
) -> None:
    pacer = Pacer(per_minute=0, per_hour=0)
    pacer.limits.append(Window(count, period))
    now, sent = 0.0, []
    for gap in gaps:
        now += gap
        picked = pacer.pick(["d"], now)
        assert isinstance(picked, tuple)
        sent.append(picked[1])
        now = max(now, picked[1])
    assert sent == sorted(sent)
    for i in range(len(sent)):
        # No `count + 1` sends within less than `period`: any window holds at most `count`.
        if i + count < len(sent):
            assert sent[i + count] - sent[i] >= period - 1e-9


def test_per_minute_and_per_hour_quotas_combine_with_the_rate() -> None:
    pacer = Pacer(rate=1, per_minute=3, per_hour=5)
    assert times(drain(pacer, ["d"] * 7)) == [0, 1, 2, 60, 61, 3600, 3601]


def test_a_slow_domain_does_not_hold_back_the_others() -> None:
    pacer = Pacer(per_domain=1)
    sent = drain(pacer, ["a", "a", "a", "b", "b", "c"])
    assert sent == [("a", 0), ("b", 0), ("c", 0), ("a", 1), ("b", 1), ("a", 2)]


def test_domain_rates_override_per_domain_and_have_a_burst() -> None:
    pacer = Pacer(per_domain=1, domain_burst=2, domains={"lapresse.example": 0.5})
    sent = drain(pacer, ["lapresse.example"] * 4 + ["radio.example"] * 4)
    by = {d: [t for x, t in sent if x == d] for d in ("lapresse.example", "radio.example")}
    assert by["lapresse.example"] == [0, 0, 2, 4]
    assert by["radio.example"] == [0, 0, 1, 2]


def test_global_and_domain_limits_together() -> None:
    pacer = Pacer(rate=2, per_domain=0.5)
    sent = drain(pacer, ["a", "a", "b", "b"])
    assert sent == [("a", 0), ("b", 0.5), ("a", 2), ("b", 2.5)]


def test_when_every_domain_must_wait_pick_says_until_when() -> None:
    pacer = Pacer(per_domain=0.25)
    assert pacer.pick(["a"], 10.0) == (0, 10.0)
    assert pacer.pick(["a", "a"], 10.5) == 14.0  # nothing reserved
    assert pacer.pick(["a"], 14.0) == (0, 14.0)


def test_domains_in_the_config_are_normalised() -> None:
    from distrib.render.renderer import ascii_address

    limits = LimitsConfig(domains={" LaPresse.Example ": 0.5, "journal-été.example": 1})
    wire = ascii_address("x@journal-été.example").rpartition("@")[2]  # as addresses are sent
    assert limits.domains == {"lapresse.example": 0.5, wire: 1}
    with pytest.raises(ValueError, match="not a domain name"):
        LimitsConfig(domains={"a@b.example": 1})


# -- the engine, with an injected clock --------------------------------------------------------


class FakeTime:
    """A clock that only moves when the (single) worker sleeps."""

    def __init__(self) -> None:
        self.now = 0.0

    def clock(self) -> float:
        return self.now

    async def sleep(self, delay: float) -> None:
        self.now += delay
        await asyncio.sleep(0)


@pytest.fixture
def log(tmp_path: Path) -> Iterator[DeliveryLog]:
    with open_log(tmp_path / "distrib-log.sqlite") as opened:
        yield opened


def test_the_engine_paces_by_domain_and_globally(
    smtp_server: SMTPTestServer, log: DeliveryLog
) -> None:
    recipients = [
        "a1@lapresse.example", "a2@lapresse.example", "a3@lapresse.example",
        "b1@radio.example", "b2@radio.example", "c1@hebdo.example",
    ]  # fmt: skip
    _, outgoing = plan_messages(log, recipients)
    fake = FakeTime()
    when: dict[str, float] = {}

    def progress(p: Progress) -> None:
        for m in smtp_server.messages:
            when.setdefault(m.rcpt_tos[0], fake.now)

    limits = LimitsConfig(rate=10, connections=1, per_domain=1, retries=0)
    report = asyncio.run(
        send_messages(
            outgoing, log=log, smtp=smtp_server.smtp_config(), limits=limits, password=None,
            on_progress=progress, clock=fake.clock, sleep=fake.sleep,
        )
    )  # fmt: skip
    assert report.sent == 6
    order = [m.rcpt_tos[0] for m in smtp_server.messages]
    assert order == [recipients[i] for i in (0, 3, 5, 1, 4, 2)]
    assert [when[r] for r in order] == pytest.approx([0, 0.1, 0.2, 1.0, 1.1, 2.0])


def test_the_engine_respects_a_burst(smtp_server: SMTPTestServer, log: DeliveryLog) -> None:
    _, outgoing = plan_messages(log, [f"j{i}@example.org" for i in range(5)])
    fake = FakeTime()
    stamps: list[float] = []
    limits = LimitsConfig(rate=2, burst=3, connections=1, retries=0)
    asyncio.run(
        send_messages(
            outgoing, log=log, smtp=smtp_server.smtp_config(), limits=limits, password=None,
            on_progress=lambda p: stamps.append(fake.now), clock=fake.clock, sleep=fake.sleep,
        )
    )  # fmt: skip
    assert stamps == pytest.approx([0, 0, 0, 0.5, 1.0])


# -- one real-time check -----------------------------------------------------------------------


def test_the_achieved_rate_in_real_time(smtp_server: SMTPTestServer, log: DeliveryLog) -> None:
    n, rate = 16, 40.0
    _, outgoing = plan_messages(log, [f"j{i}@example.org" for i in range(n)])
    limits = LimitsConfig(rate=rate, connections=3, retries=0)
    report: SendReport = asyncio.run(
        send_messages(
            outgoing, log=log, smtp=smtp_server.smtp_config(), limits=limits, password=None
        )
    )
    assert report.sent == n
    # Server-side: MAIL commands, the moment each transaction started.
    mails = sorted(c.at for c in smtp_server.commands if c.verb == "MAIL")
    achieved = (n - 1) / (mails[-1] - mails[0])
    # Never faster than asked (small allowance for network jitter); on a loaded machine
    # possibly slower, but not by more than half.
    assert rate * 0.5 < achieved < rate * 1.15
