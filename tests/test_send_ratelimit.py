"""The token bucket (with a fake clock), backoff, reply parsing and the wire encoding of bodies."""

from __future__ import annotations

import asyncio

import pytest

from distrib.send import Reply, TokenBucket, backoff, enhanced_code
from distrib.send.transport import wire_body


class FakeTime:
    """A clock that only moves when someone sleeps."""

    def __init__(self) -> None:
        self.now = 100.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, delay: float) -> None:
        self.sleeps.append(delay)
        self.now += delay


def bucket(rate: float, burst: float = 1.0) -> tuple[TokenBucket, FakeTime]:
    time = FakeTime()
    return TokenBucket(rate, burst=burst, clock=time.clock, sleep=time.sleep), time


def acquire(b: TokenBucket, times: int) -> None:
    async def go() -> None:
        for _ in range(times):
            await b.acquire()

    asyncio.run(go())


def test_tokens_are_spaced_exactly_one_over_the_rate() -> None:
    b, time = bucket(rate=4)
    acquire(b, 5)
    assert time.sleeps == pytest.approx([0.25, 0.25, 0.25, 0.25])
    assert time.now == pytest.approx(101.0)


def test_rates_below_one_per_second_are_exact() -> None:
    b, time = bucket(rate=0.4)
    acquire(b, 3)
    assert time.sleeps == pytest.approx([2.5, 2.5])


def test_a_burst_goes_at_once_then_the_rate_applies() -> None:
    b, time = bucket(rate=10, burst=3)
    acquire(b, 5)
    assert time.sleeps == pytest.approx([0.1, 0.1])


def test_idle_time_refills_up_to_the_burst_only() -> None:
    b, time = bucket(rate=2, burst=3)
    acquire(b, 3)
    assert b.tokens == pytest.approx(0)
    time.now += 0.75
    assert b.tokens == pytest.approx(1.5)
    time.now += 1000
    assert b.tokens == pytest.approx(3)


def test_concurrent_callers_reserve_in_arrival_order() -> None:
    b, _ = bucket(rate=5)
    # At the same instant, each caller's wait is one more interval than the previous one's.
    assert [b.reserve() for _ in range(4)] == pytest.approx([0.0, 0.2, 0.4, 0.6])
    assert b.tokens == pytest.approx(-3)


def test_partial_refill_shortens_the_wait() -> None:
    b, time = bucket(rate=2)
    assert b.reserve() == 0
    time.now += 0.3  # 0.6 of a token earned
    assert b.reserve() == pytest.approx(0.2)


def test_a_cancelled_wait_gives_its_token_back() -> None:
    time = FakeTime()

    async def never(delay: float) -> None:
        await asyncio.Event().wait()

    b = TokenBucket(1, clock=time.clock, sleep=never)
    b.reserve()

    async def go() -> None:
        task = asyncio.create_task(b.acquire())
        await asyncio.sleep(0)
        assert b.tokens == pytest.approx(-1)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(go())
    assert b.tokens == pytest.approx(0)


def test_rate_zero_never_waits() -> None:
    b, time = bucket(rate=0)
    acquire(b, 100)
    assert time.sleeps == []


@pytest.mark.parametrize(("rate", "burst"), [(-1, 1), (1, 0.5)])
def test_nonsense_settings_are_refused(rate: float, burst: float) -> None:
    with pytest.raises(ValueError, match="must be"):
        TokenBucket(rate, burst=burst)


def test_backoff_doubles_from_the_base_and_respects_the_cap() -> None:
    never_jitter = [backoff(n, base=30, cap=900, rand=lambda: 0.0) for n in range(1, 8)]
    assert never_jitter == [30, 60, 120, 240, 480, 900, 900]
    full_jitter = [backoff(n, base=30, cap=900, rand=lambda: 1.0) for n in range(1, 6)]
    assert full_jitter == [37.5, 75, 150, 300, 600]
    assert backoff(50, base=1, cap=10) == 10
    assert backoff(1, base=5, cap=0) == 0
    with pytest.raises(ValueError, match="from 1"):
        backoff(0, base=1, cap=1)


@pytest.mark.parametrize(
    ("code", "text", "expected"),
    [
        (550, "5.1.1 No such user", "5.1.1"),
        (451, "4.7.1 Greylisted, retry later", "4.7.1"),
        (250, "2.0.0 OK queued", "2.0.0"),
        (550, "No such user", None),
        (550, "4.1.1 mismatched class", None),
        (552, "5.3.4", "5.3.4"),
        (250, "2.6.0x not a code", None),
    ],
)
def test_enhanced_codes(code: int, text: str, expected: str | None) -> None:
    assert enhanced_code(code, text) == expected
    assert Reply(code, text).enhanced == expected


def test_reply_classes() -> None:
    assert Reply(250, "OK").positive and not Reply(250, "OK").transient
    assert Reply(451, "later").transient and Reply(554, "no").permanent
    assert str(Reply(550, "5.1.1 gone")) == "550 5.1.1 gone"


def test_wire_body_dot_stuffs_and_terminates() -> None:
    assert wire_body(b"a\r\n.b\r\n..c") == b"a\r\n..b\r\n...c\r\n.\r\n"
    assert wire_body(b"bare\nlf\rcr") == b"bare\r\nlf\r\ncr\r\n.\r\n"
    assert wire_body(b".\r\n") == b"..\r\n.\r\n"
