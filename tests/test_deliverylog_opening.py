"""Opening the delivery log: read-only for the commands that only read, refusal of a log written by
a newer distrib, a clear error for a damaged file (issue 10, items 11, 16 and 18).

Every log here is a real SQLite file; the commands run in a child process (their exit code,
standard error and the files they leave are what a user sees): `python -m distrib` where the
child must lack write access, else forked from the tests' fork server (`forked`).
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import sqlite3
import stat
import subprocess
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import pytest

from audit_helpers import Clock, add_run, open_log
from campaign_helpers import CampaignFiles, write_campaign
from distrib import __version__
from distrib.deliverylog import logged_suppressions
from distrib.deliverylog import open_log as open_delivery_log
from distrib.deliverylog.records import UNSUBSCRIBED
from distrib.deliverylog.sqlite.migrations import MIGRATIONS
from distrib.errors import DamagedLogError, DeliveryLogError, NewerLogError
from forked import run_distrib_forked
from smtp_server import SMTPTestServer

TESTS = Path(__file__).resolve().parent
NEWEST = max(m.version for m in MIGRATIONS)
#: The read-only commands, each with what its output must show from the log below.
READERS: Sequence[tuple[tuple[str, ...], str]] = (
    (("runs",), "automne"),
    (("log", "1", "-f", "csv"), "noemie@river.example"),
    (("report", "2"), "Run 2 of automne"),
    (("suppressions",), "sam.okafor@river.example"),
    (("contacts", "history", "zoe.belanger@fleuve.example"), "2 message(s) in 2 run(s)"),
    (("resolve", "1"), "1 unknown message(s)"),
)


def write_log(path: Path) -> None:
    """A log with two runs (one unknown message each) and an opt-out, closed cleanly: as a log
    is archived once a campaign is over (no -wal or -shm file beside it)."""
    clock = Clock()
    with open_log(path, clock) as log:
        add_run(log, clock, campaign="printemps")
        add_run(log, clock, campaign="automne", start=3600)
        log.add_suppression("sam.okafor@river.example", "sam.okafor@river.example",
                            reason=UNSUBSCRIBED, source="test")  # fmt: skip
    assert not [p for p in path.parent.iterdir() if p.name.startswith(f"{path.name}-")]


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def environment() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(TESTS), env.get("PYTHONPATH", "")])
    env["COLUMNS"] = "200"
    return env


def as_reader() -> list[str]:
    """The prefix that makes a child process bound by permission bits, as a user is.

    The tests may run as root, which ignores permission bits (CAP_DAC_OVERRIDE); a read-only
    mount needs privileges a CI runner may lack, and ``chattr +i`` depends on the file system.
    So, as root, the child runs through ``setpriv`` with CAP_DAC_OVERRIDE and
    CAP_DAC_READ_SEARCH taken out of its bounding set: it is still uid 0, the files' owner, so the
    owner bits apply to it exactly as to an ordinary user (``r-x`` on the folder, ``r--`` on the
    files: read-only media).  `read_only_folder` checks that the child really cannot write.
    As an ordinary user no prefix is needed.
    """
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("running as root without setpriv(1): cannot take write access away")
    drop = "-dac_override,-dac_read_search"
    return [setpriv, f"--inh-caps={drop}", f"--bounding-set={drop}"]


def run_distrib(*args: str, reader: bool = False) -> subprocess.CompletedProcess[str]:
    """Run ``distrib ARGS`` in a child process: ``python -m distrib`` through `as_reader` for a
    reader without write access; else forked from the tests' fork server (`forked`: the same
    command in its own process, without its second of imports)."""
    if reader:
        return subprocess.run(
            [*as_reader(), sys.executable, "-m", "distrib", *args],
            capture_output=True,
            text=True,
            env=environment(),
            timeout=120,
            check=False,
        )
    code, out, err = run_distrib_forked(args, env=environment(), timeout=120)
    return subprocess.CompletedProcess(
        args, code, out.decode("utf-8", "backslashreplace"), err.decode("utf-8", "backslashreplace")
    )


#: Run by the child: can it list the folder, and is creating a file there refused?
_PROBE = """
import os, sys
os.listdir(sys.argv[1])
try:
    open(os.path.join(sys.argv[1], "probe"), "w")
except OSError:
    print("read-only")
else:
    print("writable")
"""


@contextmanager
def read_only_folder(folder: Path) -> Iterator[None]:
    """Take write access to ``folder`` and to every file in it away (given back afterwards)."""
    files = [p for p in folder.rglob("*") if p.is_file()]
    folders = [folder, *(p for p in folder.rglob("*") if p.is_dir())]
    for f in files:
        f.chmod(0o444)
    for d in folders:
        d.chmod(0o555)
    try:
        probe = subprocess.run(
            [*as_reader(), sys.executable, "-c", _PROBE, str(folder)],
            capture_output=True,
            text=True,
            check=False,
        )
        if probe.returncode != 0:  # e.g. a container that forbids dropping capabilities
            pytest.skip(f"cannot run a child without write access: {probe.stderr.strip()}")
        assert probe.stdout == "read-only\n", "the folder is writable: the test would prove nothing"
        yield
    finally:
        for d in folders:
            d.chmod(stat.S_IRWXU)
        for f in files:
            f.chmod(0o644)


def assert_clean_error(result: subprocess.CompletedProcess[str], *words: str) -> None:
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr + result.stdout, result.stderr
    for word in words:
        assert word in result.stderr, (word, result.stderr)


# -- 11: read-only media ----------------------------------------------------------------------


def test_every_read_command_audits_a_log_on_read_only_media(tmp_path: Path) -> None:
    archive = tmp_path / "archive"
    archive.mkdir()
    log = archive / "distrib-log.sqlite"
    write_log(log)
    before = digest(log)
    with read_only_folder(archive):
        for args, expected in READERS:
            result = run_distrib(*args, "--log", str(log), reader=True)
            assert result.returncode == 0, (args, result.stderr)
            assert expected in result.stdout, (args, result.stdout)
    assert digest(log) == before
    assert sorted(p.name for p in archive.iterdir()) == [log.name]  # no -wal, -shm or -journal


def test_contacts_check_reads_the_suppressions_of_a_log_on_read_only_media(
    tmp_path: Path,
) -> None:
    files = write_campaign(tmp_path / "quays", port=2525)
    write_log(files.log)
    before = digest(files.log)
    with read_only_folder(files.folder):
        result = run_distrib("contacts", "check", str(files.campaign), reader=True)
    assert result.returncode == 0, result.stderr
    assert "sam.okafor@river.example" in result.stdout  # set aside: opted out in the log
    assert digest(files.log) == before
    assert not files.log.with_name(files.log.name + "-wal").exists()


def test_a_log_copied_while_it_was_written_is_read_with_its_wal(tmp_path: Path) -> None:
    """A -wal file holds commits not yet copied into the log: reading without it would miss
    them, so it is read (SQLite reads a WAL on read-only media when its -shm is there too)."""
    live = tmp_path / "live" / "distrib-log.sqlite"
    live.parent.mkdir()
    write_log(live)
    archive = tmp_path / "archive"
    archive.mkdir()
    clock = Clock()
    with open_delivery_log(live, clock=clock) as log:
        add_run(log, clock, campaign="hiver", start=7200)  # in the -wal only
        for name in (live.name, f"{live.name}-wal", f"{live.name}-shm"):
            shutil.copy(live.parent / name, archive / name)
    copy = archive / live.name
    with read_only_folder(archive):
        result = run_distrib("runs", "--log", str(copy), reader=True)
    assert result.returncode == 0, result.stderr
    assert "hiver" in result.stdout


def test_a_wal_that_cannot_be_read_where_it_is_is_a_clear_error(tmp_path: Path) -> None:
    live = tmp_path / "live" / "distrib-log.sqlite"
    live.parent.mkdir()
    write_log(live)
    archive = tmp_path / "archive"
    archive.mkdir()
    clock = Clock()
    with open_delivery_log(live, clock=clock) as log:
        add_run(log, clock, campaign="hiver", start=7200)
        for name in (live.name, f"{live.name}-wal"):  # without its -shm
            shutil.copy(live.parent / name, archive / name)
    copy = archive / live.name
    with read_only_folder(archive):
        result = run_distrib("runs", "--log", str(copy), reader=True)
    assert_clean_error(result, str(copy), f"{copy.name}-wal", "writable folder")


def test_read_commands_change_no_byte_of_the_log(tmp_path: Path) -> None:
    log = tmp_path / "distrib-log.sqlite"
    write_log(log)
    before = digest(log)
    for args, expected in READERS:
        result = run_distrib(*args, "--log", str(log))
        assert result.returncode == 0, (args, result.stderr)
        assert expected in result.stdout
        assert digest(log) == before, args


@pytest.mark.parametrize(("args", "expected"), READERS, ids=[a[0] for a, _ in READERS])
def test_a_read_command_on_an_empty_file_writes_nothing_into_it(
    tmp_path: Path, args: tuple[str, ...], expected: str
) -> None:
    del expected
    empty = tmp_path / "distrib-log.sqlite"
    empty.touch()
    result = run_distrib(*args, "--log", str(empty))
    assert_clean_error(result, str(empty), "empty")
    assert empty.stat().st_size == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == [empty.name]


def test_a_read_command_on_a_missing_file_creates_nothing(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "distrib-log.sqlite"
    for args, _ in READERS:
        result = run_distrib(*args, "--log", str(missing))
        assert_clean_error(result, str(missing), "no delivery log")
    assert not missing.parent.exists()


def test_contacts_check_and_preview_leave_an_empty_or_missing_log_alone(tmp_path: Path) -> None:
    files = write_campaign(tmp_path / "quays", port=2525)
    assert logged_suppressions(files.log) == []
    assert not files.log.exists()
    files.log.touch()
    assert logged_suppressions(files.log) == []
    result = run_distrib("contacts", "check", str(files.campaign))
    assert result.returncode == 0, result.stderr
    assert files.log.stat().st_size == 0


def test_a_log_opened_read_only_refuses_to_write(tmp_path: Path) -> None:
    path = tmp_path / "distrib-log.sqlite"
    write_log(path)
    before = digest(path)
    with open_delivery_log(path, read_only=True) as log:
        assert log.read_only
        assert [r.campaign for r in log.runs()] == ["printemps", "automne"]
        with pytest.raises(DeliveryLogError, match="read-only"):
            log.create_run("x", "x.toml")
        with pytest.raises(DeliveryLogError, match=re.escape(str(path))):
            log.add_suppression("x@y.org", "x@y.org", reason="r", source="s")
    assert digest(path) == before


# -- 18: a log written by a newer distrib -----------------------------------------------------


def record_newer_migration(path: Path, *, by: str | None = None) -> None:
    """Record migration NEWEST + 1 as a newer distrib would (a table this one does not know)."""
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        columns = {r[1] for r in conn.execute("PRAGMA table_info(schema_migrations)")}
        conn.execute("CREATE TABLE embargo_holds (id INTEGER PRIMARY KEY)")
        names, values = ["version", "name", "applied_at"], [NEWEST + 1, "holds", "2031-01-01"]
        if by is not None and "distrib" in columns:
            names, values = [*names, "distrib"], [*values, by]
        marks = ", ".join("?" * len(values))
        conn.execute(f"INSERT INTO schema_migrations ({', '.join(names)}) VALUES ({marks})", values)
    finally:
        conn.close()


def test_a_log_written_by_a_newer_distrib_is_not_written(tmp_path: Path) -> None:
    path = tmp_path / "distrib-log.sqlite"
    write_log(path)
    record_newer_migration(path)
    before = digest(path)
    with pytest.raises(NewerLogError) as caught:
        open_delivery_log(path)
    message = str(caught.value)
    assert str(path) in message and "newer distrib" in message
    assert f"schema {NEWEST + 1}" in message and f"up to schema {NEWEST}" in message
    assert "upgrade distrib" in message
    assert digest(path) == before
    with open_delivery_log(path, read_only=True) as log:  # reading it still works, with a warning
        assert [r.campaign for r in log.runs()] == ["printemps", "automne"]
        assert any("newer distrib" in w for w in log.warnings)


def test_each_migration_records_the_distrib_that_applied_it(tmp_path: Path) -> None:
    path = tmp_path / "distrib-log.sqlite"
    write_log(path)
    with sqlite3.connect(path) as conn:
        recorded = conn.execute("SELECT version, distrib FROM schema_migrations").fetchall()
    conn.close()
    assert recorded == [(m.version, __version__) for m in MIGRATIONS]
    record_newer_migration(path, by="9.4.0")
    with pytest.raises(NewerLogError, match=r"distrib 9\.4\.0"):
        open_delivery_log(path)


def test_send_refuses_a_newer_log_and_read_commands_warn(
    tmp_path: Path, smtp_server: SMTPTestServer
) -> None:
    files = write_campaign(tmp_path / "quays", port=smtp_server.port)
    write_log(files.log)
    record_newer_migration(files.log)
    before = digest(files.log)
    result = run_distrib("send", str(files.campaign), "--yes")
    assert_clean_error(result, str(files.log), "newer distrib", "upgrade distrib")
    assert smtp_server.messages == []
    assert digest(files.log) == before
    result = run_distrib("runs", "-c", str(files.campaign))
    assert result.returncode == 0, result.stderr
    assert "automne" in result.stdout
    assert "warning:" in result.stderr and "newer distrib" in result.stderr


# -- 16: a damaged log ------------------------------------------------------------------------


def damage(path: Path, where: str) -> None:
    """Spoil the file's header, or the pages of the ``runs`` and ``suppressions`` tables (one of
    them is read by every command, after opening the file)."""
    data = bytearray(path.read_bytes())
    if where == "header":
        data[0:16] = b"not a database!\0"
    else:
        with sqlite3.connect(path) as conn:
            roots = conn.execute(
                "SELECT rootpage FROM sqlite_master WHERE name IN ('runs', 'suppressions')"
            ).fetchall()
        conn.close()
        size = int.from_bytes(data[16:18], "big")
        for (root,) in roots:
            data[(root - 1) * size] = 0  # no valid b-tree page type
    path.write_bytes(bytes(data))


@pytest.fixture
def campaign(tmp_path: Path, smtp_server: SMTPTestServer) -> CampaignFiles:
    files = write_campaign(tmp_path / "quays", port=smtp_server.port)
    write_log(files.log)
    return files


@pytest.mark.parametrize("where", ["page", "header"])
@pytest.mark.parametrize(
    "command",
    [("runs",), ("log",), ("report",), ("suppressions",), ("resolve", "latest"), ("send", "-y")],
    ids=lambda c: c[0],
)
def test_a_damaged_log_is_a_clear_error_with_the_way_to_recover(
    campaign: CampaignFiles, smtp_server: SMTPTestServer, where: str, command: tuple[str, ...]
) -> None:
    damage(campaign.log, where)
    before = digest(campaign.log)
    name, *rest = command
    args = [name, str(campaign.campaign), *rest] if name == "send" else [*command, "-c"]
    if name != "send":
        args.append(str(campaign.campaign))
    result = run_distrib(*args)
    assert_clean_error(result, str(campaign.log), "damaged", ".recover", "recovered.sqlite")
    assert digest(campaign.log) == before  # kept as it was, for the recovery
    assert smtp_server.messages == []


def test_damage_found_after_opening_is_a_delivery_log_error(tmp_path: Path) -> None:
    path = tmp_path / "distrib-log.sqlite"
    write_log(path)
    damage(path, "page")
    for read_only in (False, True):
        with open_delivery_log(path, read_only=read_only) as log:  # header, migrations intact
            with pytest.raises(DamagedLogError, match=re.escape(str(path))):
                log.runs()
            with pytest.raises(DamagedLogError, match="recover"):
                log.suppressions()
