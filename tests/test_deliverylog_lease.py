"""The campaign lease: one sending process per campaign, on a real SQLite file."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from distrib.deliverylog import DeliveryLog
from distrib.deliverylog.lease import acquire_lease, lease_holder, pid_alive
from distrib.errors import DeliveryLogError, RunLockedError

T0 = datetime(2026, 2, 2, 9, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "distrib-log.sqlite"


@pytest.fixture
def log(path: Path, clock: Clock) -> Iterator[DeliveryLog]:
    with DeliveryLog.open(path, clock=clock) as opened:
        yield opened


@pytest.fixture
def other(path: Path, clock: Clock) -> Iterator[DeliveryLog]:
    """A second connection to the same file, as another process would have."""
    with DeliveryLog.open(path, clock=clock) as opened:
        yield opened


def test_a_second_holder_is_refused_with_who_holds_it(
    log: DeliveryLog, other: DeliveryLog, clock: Clock
) -> None:
    run = log.create_run("printemps", "campaign.toml")
    first = acquire_lease(log, "printemps", run_id=run.id, pid=4242, host="poste-presse")
    clock.now += timedelta(seconds=3)
    with pytest.raises(RunLockedError) as caught:
        acquire_lease(other, "printemps", pid=5151, host="poste-presse", alive=lambda _: True)
    text = str(caught.value)
    assert "campaign 'printemps'" in text and f"run {run.id}" in text
    assert "process 4242 on poste-presse" in text and "3 s ago" in text
    assert "expires in 27 s" in text
    assert isinstance(caught.value, DeliveryLogError)
    holder = lease_holder(other, "printemps")
    assert holder is not None and (holder.pid, holder.run_id) == (4242, run.id)
    first.release()
    assert lease_holder(other, "printemps") is None
    acquire_lease(other, "printemps", pid=5151, host="poste-presse").release()


def test_leases_are_per_campaign(log: DeliveryLog, other: DeliveryLog) -> None:
    with (
        acquire_lease(log, "printemps", pid=1, host="a", alive=lambda _: True),
        acquire_lease(other, "automne", pid=2, host="a", alive=lambda _: True),
    ):
        assert lease_holder(log, "automne") is not None
    assert lease_holder(log, "printemps") is None and lease_holder(log, "automne") is None


def test_a_stale_lease_is_taken_over_only_after_its_heartbeat_expires(
    log: DeliveryLog, other: DeliveryLog, clock: Clock
) -> None:
    old = acquire_lease(log, "printemps", pid=4242, host="autre-poste", ttl=30)
    clock.now += timedelta(seconds=20)
    assert old.renew()  # heartbeat at +20 s: expires at +50 s
    clock.now += timedelta(seconds=29)
    with pytest.raises(RunLockedError):
        acquire_lease(other, "printemps", pid=1, host="ici")
    clock.now += timedelta(seconds=2)  # +51 s: 31 s without a heartbeat
    new = acquire_lease(other, "printemps", pid=1, host="ici")
    assert not old.renew()  # the old holder learns it lost the lease
    assert not old.held
    old.release()  # and releasing does not remove the new holder's row
    holder = lease_holder(log, "printemps")
    assert holder is not None and holder.owner == new.owner


def test_a_dead_process_on_this_host_loses_its_lease_at_once(
    log: DeliveryLog, other: DeliveryLog
) -> None:
    acquire_lease(log, "printemps", pid=4242, host="poste-presse")
    # The same pid still running (or reused): wait for the expiry.
    with pytest.raises(RunLockedError):
        acquire_lease(other, "printemps", pid=7, host="poste-presse", alive=lambda _: True)
    # Another host: its pid means nothing here; wait for the expiry.
    with pytest.raises(RunLockedError):
        acquire_lease(other, "printemps", pid=7, host="ailleurs", alive=lambda _: False)
    taken = acquire_lease(other, "printemps", pid=7, host="poste-presse", alive=lambda _: False)
    assert taken.held


def test_the_same_process_cannot_take_its_own_lease_twice(
    log: DeliveryLog, other: DeliveryLog
) -> None:
    with acquire_lease(log, "printemps"), pytest.raises(RunLockedError):
        acquire_lease(other, "printemps")  # real pid and host: this process is alive


def test_pid_alive() -> None:
    assert pid_alive(os.getpid())
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    assert not pid_alive(child.pid)


HOLDER = """
import sys, time
from distrib.deliverylog import DeliveryLog
from distrib.deliverylog.lease import acquire_lease
log = DeliveryLog.open(sys.argv[1])
lease = acquire_lease(log, "printemps")
print("held", flush=True)
time.sleep(60)
"""


def test_two_processes(path: Path) -> None:
    DeliveryLog.open(path).close()
    with subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(path)], stdout=subprocess.PIPE, text=True
    ) as holder:
        try:
            assert holder.stdout is not None
            assert holder.stdout.readline().strip() == "held"
            with DeliveryLog.open(path) as log:
                with pytest.raises(RunLockedError, match=f"process {holder.pid}"):
                    acquire_lease(log, "printemps")
                holder.send_signal(signal.SIGKILL)  # a crash: no release
                holder.wait(timeout=10)
                started = time.monotonic()
                lease = acquire_lease(log, "printemps")  # dead on this host: no 30 s wait
                assert lease.held and time.monotonic() - started < 5
                lease.release()
        finally:
            if holder.poll() is None:
                holder.kill()


def test_confirm_renews_an_expired_lease_nobody_took_and_refuses_a_lost_one(
    log: DeliveryLog, other: DeliveryLog, clock: Clock
) -> None:
    mine = acquire_lease(log, "printemps", pid=1, host="ici", ttl=30)
    clock.now += timedelta(minutes=5)  # e.g. the officer left the confirmation prompt open
    mine.confirm()  # expired, but still ours: renewed
    holder = lease_holder(log, "printemps")
    assert holder is not None and holder.heartbeat_at == "2026-02-02T09:05:00.000+00:00"
    clock.now += timedelta(minutes=5)
    theirs = acquire_lease(other, "printemps", pid=2, host="ailleurs")
    with pytest.raises(RunLockedError, match=r"lost the lease.*process 2 on ailleurs"):
        mine.confirm()
    assert theirs.renew()
