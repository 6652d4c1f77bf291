"""Shared fixtures.  Keep this small and generic: stage-specific helpers live in their own
modules (e.g. ``smtp_server.py``), imported lazily so unrelated tests never pay for them."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from hypothesis import settings

if TYPE_CHECKING:
    from smtp_server import SMTPTestServer, TLSFiles

# Property tests: `make test` (and CI) run a fixed, derandomized set of examples so that a red
# build always means a change broke something; `make fuzz` explores new random examples
# (HYPOTHESIS_PROFILE=explore) and prints a reproducer for anything it finds.
# No deadline: a property holds however loaded the machine is (tests never depend on timing).
settings.register_profile("ci", derandomize=True, print_blob=True, deadline=None)
settings.register_profile("explore", max_examples=1000, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

# distrib speaks the locale's language (French in fr_CA): the tests read its English, unless a
# test asks for French (`--lang fr`, DISTRIB_LANG); commands run in subprocesses inherit this.
os.environ["DISTRIB_LANG"] = "en"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Run the longest tests first: the browser ones, then those marked ``slow`` (a real
    PostgreSQL, several processes, a send killed and resumed), then the rest, each group in
    file order.  `make test` spreads the tests over several processes (pytest-xdist), each
    taking the next test when it is free (``--maxschedchunk 1``): with the long ones last, one
    process was left finishing a browser journey while the others idled; with them first and
    handed out in chunks, one process got every browser test.

    Among the browser tests, those that send in-process before they ask for the browser
    (``request.getfixturevalue("browser")``: see `_Chromium`) come first, so that they find
    no browser open yet in their process."""

    def weight(item: pytest.Item) -> int:
        if item.get_closest_marker("browser") is not None:
            return 1 if "browser" in getattr(item, "fixturenames", ()) else 0
        return 2 if item.get_closest_marker("slow") is not None else 3

    items.sort(key=weight)


@pytest.fixture(scope="session")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> TLSFiles:
    """A throw-away CA and its certificate file (trustme), shared by the session."""
    from smtp_server import TLSFiles

    return TLSFiles.create(Path(tmp_path_factory.mktemp("tls")))


@pytest.fixture
def make_smtp_server(tls_files: TLSFiles) -> Iterator[Callable[..., SMTPTestServer]]:
    """Start test SMTP servers (options as `smtp_server.SMTPTestServer`); all stop afterwards."""
    from smtp_server import SMTPTestServer

    servers: list[SMTPTestServer] = []

    def make(**options: Any) -> SMTPTestServer:
        if options.get("tls") is not None:
            options.setdefault("tls_files", tls_files)
        server = SMTPTestServer(**options).start()
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.stop()


@pytest.fixture
def smtp_server(make_smtp_server: Callable[..., SMTPTestServer]) -> SMTPTestServer:
    """A plaintext test SMTP server on 127.0.0.1 (SMTPUTF8 and 8BITMIME offered, no AUTH)."""
    return make_smtp_server()


class _Chromium:
    """One headless Chromium (Debian's, installed by scripts/install-system-deps.sh) driven by
    Playwright, shared by the browser tests a test process runs one after another.

    Launching Chromium and Playwright's driver costs ~1.6 s of CPU (7 s of wall time with the
    suite running beside it) and the browser tests are ~25: they share one per process.  It is
    closed before the process runs any other test: while Playwright's sync API is open,
    `asyncio.run()` fails ("cannot be called from a running event loop"), which would break
    every later test that sends in-process.  The browser tests all run first
    (`pytest_collection_modifyitems`), so each process launches it once at most."""

    playwright: Any = None
    browser: Any = None

    @classmethod
    def get(cls) -> Any:
        if cls.browser is not None and not cls.browser.is_connected():
            cls.close()  # a test crashed it: the next one gets a new one
        if cls.browser is None:
            import shutil

            from playwright.sync_api import sync_playwright

            executable = os.environ.get("DISTRIB_CHROMIUM") or shutil.which("chromium")
            if executable is None:
                pytest.skip("Chromium not installed (scripts/install-system-deps.sh installs it)")
            cls.playwright = sync_playwright().start()
            cls.browser = cls.playwright.chromium.launch(
                executable_path=executable,
                args=[
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-quic",
                    "--no-first-run",
                    "--disable-background-networking",
                    "--disable-component-update",
                    "--disable-sync",
                ],
            )
        return cls.browser

    @classmethod
    def close(cls) -> None:
        if cls.playwright is not None:
            try:
                if cls.browser is not None:
                    cls.browser.close()
            finally:
                cls.playwright.stop()
                cls.playwright = cls.browser = None


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """Close the shared browser before a test that does not ask for it from the start: one
    that is not a browser test, or one that sends in-process first (and asks for the browser
    only after, with ``request.getfixturevalue``)."""
    if "browser" not in getattr(item, "fixturenames", ()):
        _Chromium.close()


def pytest_sessionfinish() -> None:
    _Chromium.close()


@pytest.fixture
def browser(request: pytest.FixtureRequest) -> Iterator[Any]:
    """Headless Chromium via Playwright (see `_Chromium`); skipped, with the reason, when
    Chromium is missing (CI installs it: `.ci/run`).  Each test opens its own contexts (or
    pages, each in a context of its own): every one still open is closed after the test, so no
    cookie, storage or page outlives it."""
    assert request.node.get_closest_marker("browser") is not None, (
        "a test using the browser is marked `browser` (the shared Chromium closes before others)"
    )
    chromium = _Chromium.get()
    try:
        yield chromium
    finally:
        for context in list(chromium.contexts):
            context.close()


@pytest.fixture
def screenshots_dir() -> Path:
    """Where browser tests save their screenshots (kept after the run, for people to look at)."""
    folder = Path(__file__).resolve().parent.parent / "test-artifacts"
    folder.mkdir(exist_ok=True)
    return folder


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[Any]:
    """A throwaway PostgreSQL cluster (Debian's binaries) for the session; skipped when absent."""
    from pg_server import SKIP_REASON, PostgresCluster, find_bindir

    bindir = find_bindir()
    if bindir is None:
        pytest.skip(SKIP_REASON)
    cluster = PostgresCluster.start(bindir)
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def postgres_url(postgres_cluster: Any) -> Iterator[str]:
    """The URL of a new, empty PostgreSQL database on the session's cluster (dropped after the
    test: the cluster's folder stays small)."""
    url = str(postgres_cluster.new_database())
    yield url
    postgres_cluster.drop_database(url)


@pytest.fixture(params=["sqlite", "postgresql"])
def adapter(request: pytest.FixtureRequest) -> str:
    """The delivery log's adapter a test runs against (a test asking for it runs on both)."""
    return str(request.param)


@pytest.fixture
def empty_target(adapter: str, tmp_path: Path, request: pytest.FixtureRequest) -> str | Path:
    """Where no delivery log exists yet: a file name in ``tmp_path``, or a new empty database
    (PostgreSQL tests are skipped with the cluster's reason when it is not installed)."""
    if adapter == "sqlite":
        return tmp_path / "logs" / "distrib-log.sqlite"
    return str(request.getfixturevalue("postgres_url"))


# -- relays and mailboxes (issue 15): a local OAuth2 token service, an XOAUTH2 SMTP server and
# Dovecot, each imported only by the tests that use them.


@pytest.fixture
def token_server(tls_files: TLSFiles) -> Iterator[Any]:
    """A local HTTPS OAuth2 token service (Microsoft's and Google's endpoints) on 127.0.0.1."""
    from token_server import TokenServer

    server = TokenServer(tls_files).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def make_oauth_smtp_server(tls_files: TLSFiles) -> Iterator[Callable[..., Any]]:
    """Start SMTP servers that require STARTTLS and AUTH XOAUTH2/OAUTHBEARER (`oauth_smtp`)."""
    from oauth_smtp import OAuthSMTPServer

    servers: list[OAuthSMTPServer] = []

    def make(check: Callable[[str, str], bool], **options: Any) -> OAuthSMTPServer:
        server = OAuthSMTPServer(tls_files, check, **options).start()
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.stop()


@pytest.fixture
def dovecot(tls_files: TLSFiles) -> Iterator[Any]:
    """A throwaway Dovecot IMAP server on 127.0.0.1 with one user; skipped when not installed."""
    from dovecot_server import SKIP_REASON, DovecotServer, available

    if not available():
        pytest.skip(SKIP_REASON)
    server = DovecotServer.start(tls_files)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def dovecot_oauth(tls_files: TLSFiles, token_server: Any) -> Iterator[Any]:
    """Dovecot whose XOAUTH2/OAUTHBEARER tokens are checked by the local token service."""
    from dovecot_server import SKIP_REASON, DovecotServer, available

    if not available():
        pytest.skip(SKIP_REASON)
    server = DovecotServer.start(tls_files, introspection_url=f"{token_server.base}/introspect")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def dns_server() -> Iterator[Any]:
    """A tiny authoritative DNS server on 127.0.0.1 (UDP, free port) answering from a dict."""
    from dns_server import DNSServer

    server = DNSServer().start()
    try:
        yield server
    finally:
        server.stop()
