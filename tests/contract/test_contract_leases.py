"""The campaign lease (one sending process per campaign) and the workers of a run (several
processes draining one run), on both adapters."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest

from distrib.deliverylog import Begin, DeliveryLog, NewMessage, State, open_log
from distrib.deliverylog.lease import acquire_lease, lease_holder, pid_alive
from distrib.deliverylog.workers import Worker
from distrib.errors import DeliveryLogError, RunLockedError
from log_helpers import Clock, begin, finish, outcome


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


def test_pid_alive() -> None:
    assert pid_alive(os.getpid())
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    assert not pid_alive(child.pid)


HOLDER = """
import sys, time
from distrib.deliverylog import open_log
from distrib.deliverylog.lease import acquire_lease
log = open_log(sys.argv[1])
lease = acquire_lease(log, "printemps")
print("held", flush=True)
time.sleep(60)
"""


def test_two_processes(log: DeliveryLog, target: str | Path) -> None:
    with subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(target)], stdout=subprocess.PIPE, text=True
    ) as holder:
        try:
            assert holder.stdout is not None
            assert holder.stdout.readline().strip() == "held"
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


# -- workers ----------------------------------------------------------------------------------


def plan(log: DeliveryLog, n: int) -> tuple[int, list[int]]:
    run = log.create_run("printemps", "campaign.toml")
    log.add_messages(
        run.id,
        [NewMessage(key=f"k{i}", recipient=f"r{i}@example.org", address=f"r{i}@example.org")
         for i in range(n)],
    )  # fmt: skip
    return run.id, [m.id for m in log.messages(run.id)]


def worker(log: DeliveryLog, run: int, pid: int, *, alive: bool = True) -> Worker:
    return Worker.register(log, run, pid=pid, host="poste", alive=lambda _: alive)


def test_two_workers_never_claim_the_same_message(log: DeliveryLog, other: DeliveryLog) -> None:
    run, ids = plan(log, 20)
    a, b = worker(log, run, 1), worker(other, run, 2)
    got_a = [m.id for m in log.claim(run, a.id, 6)]
    got_b = [m.id for m in other.claim(run, b.id, 100)]
    assert got_a == ids[:6] and got_b == ids[6:]  # in planning order, disjoint
    assert log.claim(run, a.id, 5) == [] and log.free_messages(run) == 0
    assert log.worker_load(run) == {a.id: 6, b.id: 14}
    assert {m.worker for m in log.messages(run)} == {a.id, b.id}


def test_claims_grow_and_come_lazily(log: DeliveryLog) -> None:
    run, ids = plan(log, 30)
    a = worker(log, run, 1)
    claimed = a.claims()
    assert [next(claimed).id for _ in range(3)] == ids[:3]
    assert log.free_messages(run) == 30 - 8  # one claim of 8 so far
    assert [m.id for m in claimed] == ids[3:]
    assert a.claimed == 30


def test_deferred_messages_not_yet_due_are_claimed_last_soonest_first(
    log: DeliveryLog, clock: Clock
) -> None:
    run, [m0, m1, m2, m3] = plan(log, 4)
    finish(log, m1, State.DEFERRED, retry_at=clock.now + timedelta(minutes=10))
    finish(log, m2, State.DEFERRED, retry_at=clock.now + timedelta(minutes=5))
    finish(log, m3, State.DEFERRED, retry_at=clock.now - timedelta(minutes=5))  # due
    a = worker(log, run, 1)
    assert [m.id for m in a.claims()] == [m0, m3]
    assert [m.id for m in a.claims(later=True)] == [m2, m1]


def test_a_worker_only_begins_what_it_holds(log: DeliveryLog) -> None:
    run, [m0, m1, m2] = plan(log, 3)
    a, b = worker(log, run, 1), worker(log, run, 2)
    log.claim(run, a.id, 1)
    log.claim(run, b.id, 1)
    now = log.now()
    results = log.apply(
        [Begin(m0, None, now), Begin(m1, None, now), Begin(m2, None, now)], worker=a.id
    )
    assert isinstance(results[0], int)  # its own
    assert isinstance(results[1], DeliveryLogError) and "held by worker" in str(results[1])
    assert isinstance(results[2], DeliveryLogError)  # no worker holds it: claim it first
    # A process that is no worker never begins a message a worker holds.
    with pytest.raises(DeliveryLogError, match="held by worker"):
        begin(log, m1)
    assert [log.message(m).status for m in (m0, m1, m2)] == ["data", "ready", "ready"]


def test_a_silent_worker_is_recovered_by_another_and_fenced_off(
    log: DeliveryLog, other: DeliveryLog, clock: Clock
) -> None:
    run, ids = plan(log, 6)
    silent = worker(log, run, 41, alive=False)  # its pid is gone (from the others' view)
    live = worker(other, run, 42)
    [m0, m1, m2] = [m.id for m in log.claim(run, silent.id, 3)]
    [attempt] = log.apply([Begin(m0, None, log.now())], worker=silent.id)
    assert isinstance(attempt, int)
    mine = [m.id for m in other.claim(run, live.id, 2)]
    [begin_live] = other.apply([Begin(mine[0], None, other.now())], worker=live.id)
    assert isinstance(begin_live, int)

    checker = Worker(other, live.row, host="poste", alive=lambda pid: pid != 41)
    assert checker.sweep() == (0, 1)  # its `data` message: unknown; its claims: free
    assert log.message(m0).status == "unknown"
    assert log.free_messages(run) == 2 + 1  # m1, m2 back, and the one nobody claimed
    assert [w.id for w in log.workers(run)] == [live.id]
    assert log.message(mine[0]).status == "data"  # a live worker's message is not touched
    # The silent one, if it was only slow: everything it tries now is refused.
    assert not silent.renew()
    with pytest.raises(DeliveryLogError, match="was stopped"):
        log.claim(run, silent.id, 1)
    with pytest.raises(DeliveryLogError, match="cannot go from unknown"):
        outcome(log, m0, attempt, State.SENT, code=250, text="ok")
    [refused] = log.apply([Begin(m1, None, log.now())], worker=silent.id)
    assert isinstance(refused, DeliveryLogError)
    assert sorted(m.id for m in other.claim(run, live.id, 10)) == sorted(
        [m1, m2, *[i for i in ids if i not in (m0, m1, m2, *mine)]]
    )


def test_finishing_puts_claims_back_and_a_drained_run_is_idle(log: DeliveryLog) -> None:
    run, ids = plan(log, 4)
    a = worker(log, run, 1)
    assert len(log.claim(run, a.id, 4)) == 4
    assert a.finish() == 4
    assert log.free_messages(run) == 4 and log.workers(run) == []
    assert a.finish() == 0  # once
    b = worker(log, run, 2)
    assert [m.id for m in b.claims()] == ids


def test_the_lease_is_not_stale_while_a_worker_drains_its_run(
    log: DeliveryLog, other: DeliveryLog, clock: Clock
) -> None:
    run, _ = plan(log, 2)
    acquire_lease(log, "printemps", run_id=run, pid=4242, host="poste", alive=lambda _: True)
    helper = Worker.register(log, run, pid=5151, host="ailleurs")
    clock.now += timedelta(seconds=31)  # the holder's heartbeat expired
    assert helper.renew()  # the joined worker keeps beating
    with pytest.raises(RunLockedError):
        acquire_lease(other, "printemps", pid=1, host="ici")
    helper.finish()
    acquire_lease(other, "printemps", pid=1, host="ici").release()


def test_opening_twice_at_once_gives_one_schema(empty_target: str | Path) -> None:
    # (The many-process race is in test_contract_migrations.)
    with open_log(empty_target) as first, open_log(empty_target) as second:
        assert first.migrations() == second.migrations()


def test_an_idle_worker_waits_for_a_live_one_and_takes_over_a_silent_one(
    log: DeliveryLog, other: DeliveryLog
) -> None:
    import asyncio

    run, ids = plan(log, 5)
    gone: set[int] = set()
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)
        gone.add(41)  # while B waits, A's process dies

    a = worker(log, run, 41)
    b = Worker.register(other, run, pid=42, host="poste", alive=lambda pid: pid not in gone,
                        sleep=sleep)  # fmt: skip
    [held] = [m.id for m in log.claim(run, a.id, 1)]
    [begun] = [m.id for m in log.claim(run, a.id, 1)]
    [attempt] = log.apply([Begin(begun, None, log.now())], worker=a.id)
    assert isinstance(attempt, int)
    assert [m.id for m in b.claims()] == ids[2:]  # what nobody holds
    # Nothing free: A (alive) holds two messages, so B waits, then takes A's over.
    assert asyncio.run(b.idle()) is True
    assert len(slept) == 1
    assert log.message(begun).status == "unknown"  # A may have sent it: never resent
    assert [m.id for m in b.claims()] == [held]
    assert asyncio.run(b.idle()) is False  # drained: nothing free, nobody else holds any
    assert len(slept) == 1
