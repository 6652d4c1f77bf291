"""`distrib unsubscribe-server`: real sends to a real SMTP server, a real uvicorn server on
127.0.0.1, real HTTP and a real browser.  A one-click POST takes a journalist off every later
run; forged tokens and tokens from another workspace record nothing."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from campaign_helpers import CampaignFiles, parse, write_campaign
from distrib.app import load_campaign, token_index
from distrib.cli import app as cli
from distrib.deliverylog import open_log
from distrib.web.unsubscribe_server import UNSUBSCRIBE_CSP, create_unsubscribe_app
from smtp_server import SMTPTestServer
from web_helpers import AXE, served

SECRET = "s3cret-for-one-click-unsubscribe-tests"
ONE_CLICK = {"List-Unsubscribe": "One-Click"}
runner = CliRunner()


def distrib(*args: str) -> str:
    result = runner.invoke(cli, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def workspace(folder: Path, port: int, *, name: str = "quays") -> CampaignFiles:
    """The test campaign, its messages carrying one-click links to this server."""
    files = write_campaign(folder, port=port)
    text = files.campaign.read_text(encoding="utf-8")
    text = text.replace('name = "quays"', f'name = "{name}"', 1).replace(
        "[sender]\n",
        '[sender]\nunsubscribe_url = "https://desabonnement.quais.example/u/{token}"\n',
    )
    files.campaign.write_text(text, encoding="utf-8")
    return files


def tokens_by_recipient(smtp: SMTPTestServer, since: int = 0) -> dict[str, str]:
    """Each recipient's token, from the List-Unsubscribe header of what the server received."""
    found = {}
    for envelope in smtp.messages[since:]:
        header = str(parse(envelope.data)["List-Unsubscribe"])
        match = re.search(r"<https://desabonnement\.quais\.example/u/([A-Za-z0-9_-]+)>", header)
        assert match is not None, header
        (recipient,) = envelope.rcpt_tos
        found[recipient.lower()] = match.group(1)
    return found


@contextmanager
def unsubscribe_server(files: CampaignFiles) -> Iterator[httpx.Client]:
    index = token_index(load_campaign(files.campaign))
    with (
        served(create_unsubscribe_app(files.campaign, index)) as server,
        httpx.Client(base_url=server.url()) as client,
    ):
        yield client


def suppressed(files: CampaignFiles) -> list[tuple[str, str, str]]:
    with open_log(files.log, read_only=True) as log:
        return [(s.address, s.reason, s.source) for s in log.suppressions()]


@pytest.fixture
def secret(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("DISTRIB_UNSUBSCRIBE_SECRET", SECRET)
    return SECRET


def test_one_click_takes_the_journalist_off_every_later_run(
    tmp_path: Path, smtp_server: SMTPTestServer, secret: str
) -> None:
    files = workspace(tmp_path / "ws", smtp_server.port)
    # The server starts before anything was sent: it finds the first run's recipients later.
    with unsubscribe_server(files) as client:
        distrib("send", str(files.campaign), "--yes")
        tokens = tokens_by_recipient(smtp_server)
        sam = tokens["sam.okafor@river.example"]
        assert len(sam) == 22 and "sam" not in sam.lower()

        page = client.get(f"/u/{sam}")
        assert page.status_code == 200
        assert "Se désabonner" in page.text and "Unsubscribe" in page.text
        assert 'lang="fr"' in page.text and 'lang="en"' in page.text
        assert "sam" not in page.text.lower() and "river" not in page.text  # no address shown
        assert page.headers["content-security-policy"] == UNSUBSCRIBE_CSP
        assert suppressed(files) == []  # looking records nothing (mail scanners follow links)

        done = client.post(f"/u/{sam}", data=ONE_CLICK)  # RFC 8058, as a mail client sends it
        assert done.status_code == 200
        assert "Désabonnement enregistré" in done.text and "You are unsubscribed" in done.text
        assert suppressed(files) == [
            ("sam.okafor@river.example", "unsubscribed", "one-click unsubscribe link")
        ]
        again = client.post(f"/u/{sam}", files={"List-Unsubscribe": (None, "One-Click")})
        assert again.status_code == 200  # multipart too; already unsubscribed is fine
        assert len(suppressed(files)) == 1

    before = len(smtp_server.messages)
    distrib("send", str(files.campaign), "--yes", "--resend")
    second = {m.rcpt_tos[0].lower() for m in smtp_server.messages[before:]}
    assert second == set(tokens) - {"sam.okafor@river.example"}
    assert len(smtp_server.received_for("sam.okafor@river.example")) == 1


def _forged(token: str) -> str:
    flipped = "A" if token[5] != "A" else "B"
    return token[:5] + flipped + token[6:]


def _token(secret: str, scope: str, address: str) -> str:
    payload = json.dumps(["distrib-unsubscribe-2", scope, address], ensure_ascii=False)
    digest = hmac.digest(secret.encode(), payload.encode(), "sha256")
    return base64.urlsafe_b64encode(digest).decode()[:22]


def test_forged_and_foreign_tokens_are_refused_and_record_nothing(
    tmp_path: Path, smtp_server: SMTPTestServer, secret: str
) -> None:
    ours = workspace(tmp_path / "ours", smtp_server.port)
    theirs = workspace(tmp_path / "theirs", smtp_server.port, name="quays-2027")  # same secret
    distrib("send", str(ours.campaign), "--yes")
    our_tokens = tokens_by_recipient(smtp_server)
    since = len(smtp_server.messages)
    distrib("send", str(theirs.campaign), "--yes")
    their_tokens = tokens_by_recipient(smtp_server, since)
    zoe = "zoe.belanger@fleuve.example"
    assert our_tokens[zoe] != their_tokens[zoe]  # same secret, same address, other workspace

    attempts = [
        _forged(our_tokens[zoe]),
        their_tokens[zoe],  # replayed from another workspace's message
        _token("another secret entirely", "quais.example/quays", zoe),
        _token(SECRET, "other.example/quays", zoe),  # another sender domain
        _token(SECRET, "quais.example/quays", "nobody@nowhere.example"),  # never sent to
        "A" * 22,
        our_tokens[zoe][:21],
        our_tokens[zoe] + "A",
        "../../campaign.toml",
        "%00" + our_tokens[zoe],
    ]
    with unsubscribe_server(ours) as client:
        for token in attempts:
            shown = client.get(f"/u/{token}")
            posted = client.post(f"/u/{token}", data=ONE_CLICK)
            assert (shown.status_code, posted.status_code) == (404, 404), token
            assert "Lien non reconnu" in posted.text and "Link not recognised" in posted.text
        # The right token without the one-click body, or with a body too big: nothing.
        assert client.post(f"/u/{our_tokens[zoe]}").status_code == 400
        assert (
            client.post(f"/u/{our_tokens[zoe]}", data={"List-Unsubscribe": "Yes"}).status_code
            == 400
        )
        big = {"List-Unsubscribe": "One-Click", "x": "y" * 10_000}
        assert client.post(f"/u/{our_tokens[zoe]}", data=big).status_code == 413
        assert client.get("/").status_code == 404
        assert client.get("/u/").status_code == 404
    assert suppressed(ours) == [] and suppressed(theirs) == []
    # And the other way round: our token on their server.
    with unsubscribe_server(theirs) as client:
        assert client.post(f"/u/{our_tokens[zoe]}", data=ONE_CLICK).status_code == 404
        assert client.post(f"/u/{their_tokens[zoe]}", data=ONE_CLICK).status_code == 200
    assert [s[0] for s in suppressed(theirs)] == [zoe] and suppressed(ours) == []
    # The producer and the server agree on the scheme this test spells out.
    assert _token(SECRET, "quais.example/quays", zoe) == our_tokens[zoe]


def test_the_server_needs_the_secret(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    files = workspace(tmp_path / "ws", 25)
    monkeypatch.delenv("DISTRIB_UNSUBSCRIBE_SECRET", raising=False)
    result = runner.invoke(cli, ["unsubscribe-server", str(files.campaign), "--port", "0"])
    assert result.exit_code == 2
    assert "set the environment variable DISTRIB_UNSUBSCRIBE_SECRET" in result.output


def test_a_missing_log_is_a_polite_503(tmp_path: Path, secret: str) -> None:
    files = workspace(tmp_path / "ws", 25)
    with unsubscribe_server(files) as client:
        answer = client.post(f"/u/{'A' * 22}", data=ONE_CLICK)
        assert answer.status_code == 503 and "Service indisponible" in answer.text
    assert not files.log.exists()


@pytest.mark.browser
def test_the_page_in_a_browser(
    tmp_path: Path,
    smtp_server: SMTPTestServer,
    secret: str,
    request: pytest.FixtureRequest,
    screenshots_dir: Path,
) -> None:
    files = workspace(tmp_path / "ws", smtp_server.port)
    distrib("send", str(files.campaign), "--yes")
    # Only now: while Playwright's sync API is open, asyncio.run() (the send) cannot run.
    browser = request.getfixturevalue("browser")
    token = tokens_by_recipient(smtp_server)["noemie@river.example"]
    index = token_index(load_campaign(files.campaign))
    violations: dict[str, list[str]] = {}
    with served(create_unsubscribe_app(files.campaign, index)) as server:
        for width, height in ((1366, 768), (390, 844)):
            page = browser.new_page(viewport={"width": width, "height": height})
            page.goto(f"{server.url()}u/{token}")
            page.screenshot(
                path=str(screenshots_dir / f"unsubscribe-ask-{width}.png"), full_page=True
            )
            violations[f"ask-{width}"] = axe_serious(page)
            page.close()
        page = browser.new_page(viewport={"width": 390, "height": 844})
        page.goto(f"{server.url()}u/{token}")
        page.get_by_role("button").click()
        page.wait_for_load_state()
        assert "Désabonnement enregistré" in page.content()
        page.screenshot(path=str(screenshots_dir / "unsubscribe-done-390.png"), full_page=True)
        violations["done-390"] = axe_serious(page)
        page.set_viewport_size({"width": 1366, "height": 768})
        page.screenshot(path=str(screenshots_dir / "unsubscribe-done-1366.png"), full_page=True)
        page.close()
    assert violations == {k: [] for k in violations}
    assert suppressed(files) == [
        ("noemie@river.example", "unsubscribed", "one-click unsubscribe link")
    ]


def axe_serious(page: Any) -> list[str]:
    """Run axe-core in ``page``: the serious and critical violations (rule: first target)."""
    page.evaluate(AXE.read_text(encoding="utf-8"))
    # Every rule runs; only the violations are gathered (axe's resultTypes: faster on pages
    # with many nodes, the same violations; `test_axe_finds_what_it_must` keeps it honest).
    result = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    return [
        f"{v['id']}: {v['nodes'][0]['target']}"
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]


@pytest.mark.browser
def test_axe_finds_what_it_must(browser: Any) -> None:
    """The accessibility check is not blind: a page with an unlabelled field, an image
    without text, and grey on grey gets those three named, and the same page fixed gets none."""
    page = browser.new_page()
    bad = (
        '<!doctype html><html lang="fr"><head><title>t</title></head><body><main>'
        '<input type="text"><img src="data:,"><p style="color:#aaa;background:#bbb">texte</p>'
        "</main></body></html>"
    )
    page.set_content(bad)
    found = {v.split(":")[0] for v in axe_serious(page)}
    assert {"label", "image-alt", "color-contrast"} <= found, found
    page.set_content(
        bad.replace('<input type="text">', '<label>Nom <input type="text"></label>')
        .replace('<img src="data:,">', '<img src="data:," alt="logo">')
        .replace("color:#aaa;background:#bbb", "color:#222;background:#fff")
    )
    assert axe_serious(page) == []
    page.close()


def test_axe_is_the_vendored_release() -> None:
    version = (AXE.parent / "VERSION").read_text(encoding="utf-8")
    digest = hashlib.sha256(AXE.read_bytes()).hexdigest()
    assert f"sha256 of axe.min.js: {digest}" in version
    assert AXE.read_text(encoding="utf-8").startswith("/*! axe v4.14.1")


def _workspace_with_link(root: Path, port: int, address: str = "presse@quais.example") -> Path:
    """A workspace (two releases) whose messages carry one-click links; returns distrib.toml."""
    from workspace_helpers import write_workspace

    files = write_workspace(root, port=port)
    text = files.file.read_text(encoding="utf-8").replace(
        '[sender]\nname = "Service de presse"\naddress = "presse@quais.example"\n',
        f'[sender]\nname = "Service de presse"\naddress = "{address}"\n'
        'unsubscribe_url = "https://desabonnement.quais.example/u/{token}"\n',
    )
    assert "unsubscribe_url" in text
    files.file.write_text(text, encoding="utf-8")
    return files.file


def test_a_release_1_token_is_honoured_by_release_2_and_another_workspace_refuses_it(
    tmp_path: Path, smtp_server: SMTPTestServer, secret: str
) -> None:
    from workspace_helpers import FIRST, LANGUAGES, SECOND

    ours = _workspace_with_link(tmp_path / "ours", smtp_server.port)
    # Another workspace, same secret, its own sender domain.
    theirs = _workspace_with_link(tmp_path / "theirs", smtp_server.port, "presse@autre.example")
    distrib("send", str(ours), "--release", FIRST, "--yes")
    first = tokens_by_recipient(smtp_server)
    since = len(smtp_server.messages)
    distrib("send", str(theirs), "--release", FIRST, "--yes")
    their_tokens = tokens_by_recipient(smtp_server, since)
    zoe = "zoe@fleuve.example"
    assert first[zoe] != their_tokens[zoe]

    def server_of(file: Path) -> Any:
        return served(create_unsubscribe_app(file, token_index(load_campaign(file))))

    with server_of(theirs) as server, httpx.Client(base_url=server.url()) as client:
        assert client.post(f"/u/{first[zoe]}", data=ONE_CLICK).status_code == 404
    with server_of(ours) as server, httpx.Client(base_url=server.url()) as client:
        assert client.post(f"/u/{their_tokens[zoe]}", data=ONE_CLICK).status_code == 404
        assert client.post(f"/u/{first[zoe]}", data=ONE_CLICK).status_code == 200
    with open_log(theirs.parent / "distrib-log.sqlite", read_only=True) as log:
        assert list(log.suppressions()) == []  # the refused token recorded nothing there

    since = len(smtp_server.messages)
    distrib("send", str(ours), "--release", SECOND, "--yes")
    second = {m.rcpt_tos[0].lower() for m in smtp_server.messages[since:]}
    assert second == set(LANGUAGES) - {zoe}  # release 2 skips who left from release 1
