"""Rates (the GCRA form of a token bucket), backoff, reply parsing and the wire encoding of
bodies."""

from __future__ import annotations

import pytest

from distrib.send import Rate, Reply, backoff, enhanced_code
from distrib.send.transport import wire_body


def schedule(rate: Rate, asks: list[float]) -> list[float]:
    """When each message may go, asked at these times, each sent as soon as allowed."""
    sent = []
    for now in asks:
        at = rate.ready_at(now)
        rate.commit(at)
        sent.append(at)
    return sent


def test_messages_are_spaced_exactly_one_over_the_rate() -> None:
    assert schedule(Rate(4), [100.0] * 5) == pytest.approx([100, 100.25, 100.5, 100.75, 101])


def test_rates_below_one_per_second_are_exact() -> None:
    assert schedule(Rate(0.4), [0.0] * 3) == pytest.approx([0, 2.5, 5])


def test_a_burst_goes_at_once_then_the_rate_applies() -> None:
    assert schedule(Rate(10, burst=3), [0.0] * 5) == pytest.approx([0, 0, 0, 0.1, 0.2])


def test_idle_time_refills_up_to_the_burst_only() -> None:
    rate = Rate(2, burst=3)
    schedule(rate, [0.0] * 3)
    assert schedule(rate, [1000.0] * 4) == pytest.approx([1000, 1000, 1000, 1000.5])


def test_partial_refill_shortens_the_wait() -> None:
    rate = Rate(2)
    assert schedule(rate, [0.0, 0.3]) == pytest.approx([0, 0.5])


@pytest.mark.parametrize(("rate", "burst"), [(-1, 1), (0, 1), (1, 0.5)])
def test_nonsense_settings_are_refused(rate: float, burst: float) -> None:
    with pytest.raises(ValueError, match="must be"):
        Rate(rate, burst=burst)


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
