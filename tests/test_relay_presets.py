"""Relay presets: the providers' documented figures, each with its source and date, merged with
explicit settings (which always win)."""

from __future__ import annotations

import re

import pytest

from distrib.relay.errors import PresetError
from distrib.relay.presets import PRESETS, merge, quotas


def test_microsoft365_fills_host_security_oauth_and_limits() -> None:
    relay = merge("microsoft365")
    assert (relay.host, relay.port, relay.security) == ("smtp.office365.com", 587, "starttls")
    assert relay.auth == ("XOAUTH2",) and relay.oauth == "microsoft365"
    assert (relay.per_minute, relay.recipients_per_day, relay.per_day) == (30, 10_000, None)
    assert relay.imap_host == "outlook.office365.com"
    assert relay.origin["per_minute"].startswith("preset microsoft365: 30 (as documented")
    assert "Exchange Online limits" in relay.origin["per_minute"]
    assert (
        "as documented by the provider, last reviewed 2026-12-03 — verify for your plan"
        in relay.origin["per_minute"]
    )
    assert relay.origin["host"] == "preset microsoft365"


def test_google_workspace_limits() -> None:
    relay = merge("google-workspace")
    assert (relay.host, relay.per_day, relay.per_minute) == ("smtp.gmail.com", 2_000, None)
    assert relay.auth == ("XOAUTH2", "OAUTHBEARER")


def test_explicit_settings_win_and_say_so() -> None:
    relay = merge("microsoft365", {"per_minute": 20, "port": 25, "host": None})
    assert (relay.per_minute, relay.port, relay.host) == (20, 25, "smtp.office365.com")
    assert relay.origin["per_minute"] == "set explicitly"
    assert relay.origin["host"] == "preset microsoft365"


def test_amazon_ses_needs_a_known_region() -> None:
    relay = merge("amazon-ses", {"region": "ca-central-1"})
    assert relay.host == "email-smtp.ca-central-1.amazonaws.com"
    assert relay.per_day is None and "account setting" in relay.origin["per_day"]
    with pytest.raises(PresetError, match=r'needs region \(e\.g\. "us-east-1"\)'):
        merge("amazon-ses")
    with pytest.raises(PresetError, match="unknown region 'mars-1'"):
        merge("amazon-ses", {"region": "mars-1"})
    # An explicit host (a VPC endpoint, say) needs no region.
    assert merge("amazon-ses", {"host": "vpce.example"}).host == "vpce.example"


def test_mistakes_are_named() -> None:
    with pytest.raises(PresetError, match="unknown preset 'outlook'; use one of \"microsoft365\""):
        merge("outlook")
    with pytest.raises(PresetError, match="unknown setting\\(s\\) per_week, pssword"):
        merge("postmark", {"pssword": "x", "per_week": 3})
    with pytest.raises(PresetError, match="needs host"):
        merge("custom")
    with pytest.raises(PresetError, match="requires TLS"):
        merge("mailgun", {"security": "none"})
    assert merge("custom", {"host": "127.0.0.1", "security": "none"}).security == "none"


def test_every_figure_has_a_source_and_a_date() -> None:
    for preset in PRESETS.values():
        for name in ("per_minute", "per_hour", "per_day", "recipients_per_day", "max_message_mb"):
            figure = getattr(preset, name)
            if figure is not None:
                assert figure.source and re.fullmatch(r"\d{4}-\d{2}-\d{2}", figure.reviewed), (
                    preset.name
                )
        assert preset.security in ("starttls", "tls")


def test_quotas_fill_the_limits_a_provider_documents() -> None:
    # Microsoft 365: 30 messages a minute, 10,000 recipients a day (one recipient a message).
    assert quotas("microsoft365") == {"per_minute": 30, "per_day": 10_000}
    assert quotas("google-workspace") == {"per_day": 2_000}
    assert quotas("amazon-ses") == {} and quotas("custom") == {} and quotas("nope") == {}
