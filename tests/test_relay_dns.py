"""SPF, DKIM and DMARC of the sender domain, read from a local DNS server (never the internet)."""

from __future__ import annotations

from typing import Any

import pytest

from distrib.relay.dns import check_sender_domain, parse_dmarc, resolver_for

DOMAIN = "agapc.example"


def resolver(server: Any) -> Any:
    return resolver_for(["127.0.0.1"], port=server.port, timeout=5)


def txt(*texts: str) -> list[str]:
    return [f'"{t}"' for t in texts]


def levels(report: Any, check: str) -> list[tuple[str, str]]:
    return [(f.level, f.message) for f in report.findings if f.check == check]


def test_microsoft365_fully_set_up(dns_server: Any) -> None:
    dns_server.records.update({
        (DOMAIN, "TXT"): txt("MS=ms12345678", "v=spf1 include:spf.protection.outlook.com -all"),
        (f"selector1._domainkey.{DOMAIN}", "CNAME"):
            ["selector1-agapc-example._domainkey.agapc.onmicrosoft.com."],
        ("selector1-agapc-example._domainkey.agapc.onmicrosoft.com", "TXT"):
            txt("v=DKIM1; k=rsa; p=MIIBIjANBgkqh"),
        (f"_dmarc.{DOMAIN}", "TXT"): txt("v=DMARC1; p=quarantine; rua=mailto:dmarc@agapc.example"),
    })  # fmt: skip
    report = check_sender_domain(DOMAIN, provider="microsoft365", resolver=resolver(dns_server))
    assert report.spf_authorises is True and report.warnings == []
    assert levels(report, "spf") == [
        ("ok", "agapc.example authorises Microsoft 365 (include:spf.protection.outlook.com)")
    ]
    assert list(report.dkim) == ["selector1"]
    assert report.dmarc_policy == "quarantine"


def test_google_reached_through_a_nested_include(dns_server: Any) -> None:
    dns_server.records.update({
        (DOMAIN, "TXT"): txt("v=spf1 include:_spf.agapc.example ~all"),
        (f"_spf.{DOMAIN}", "TXT"): txt("v=spf1 ip4:192.0.2.0/24 include:_spf.google.com ~all"),
        (f"google._domainkey.{DOMAIN}", "TXT"): txt("v=DKIM1; k=rsa; p=MIIB"),
    })  # fmt: skip
    report = check_sender_domain(DOMAIN, provider="google-workspace",
                                 resolver=resolver(dns_server))  # fmt: skip
    assert report.spf_authorises is True
    assert ("ok", "agapc.example authorises Google Workspace (include:_spf.google.com)") in (
        levels(report, "spf")
    )
    # No DMARC record: a warning, with what to publish.
    (dmarc,) = levels(report, "dmarc")
    assert dmarc[0] == "warning" and "no DMARC record" in dmarc[1]


def test_an_spf_that_does_not_authorise_the_relay_and_dmarc_would_fail(dns_server: Any) -> None:
    dns_server.records.update({
        (DOMAIN, "TXT"): txt("v=spf1 mx include:_spf.google.com -all"),
        (DOMAIN, "MX"): ["10 mx.agapc.example."],
        (f"mx.{DOMAIN}", "A"): ["192.0.2.25"],
        (f"_dmarc.{DOMAIN}", "TXT"): txt("v=DMARC1; p=reject"),
    })  # fmt: skip
    report = check_sender_domain(DOMAIN, provider="microsoft365", resolver=resolver(dns_server))
    assert report.spf_authorises is False
    assert ("warning", "the SPF record of agapc.example does not authorise Microsoft 365: add"
            " include:spf.protection.outlook.com") in levels(report, "spf")  # fmt: skip
    assert ("warning", "no DKIM key at selector1._domainkey.agapc.example,"
            " selector2._domainkey.agapc.example") in levels(report, "dkim")  # fmt: skip
    assert any(
        level == "warning" and "DMARC would fail" in text and "refuse the release" in text
        for level, text in levels(report, "dmarc")
    )


def test_a_custom_relay_by_address(dns_server: Any) -> None:
    dns_server.records.update({
        (DOMAIN, "TXT"): txt("v=spf1 a:relay.agapc.example ip6:2001:db8::/32 -all"),
        (f"relay.{DOMAIN}", "A"): ["198.51.100.7"],
    })  # fmt: skip
    check = resolver(dns_server)
    assert check_sender_domain(DOMAIN, relay_ips=["198.51.100.7"], resolver=check).spf_authorises
    assert check_sender_domain(DOMAIN, relay_ips=["2001:db8::25"], resolver=check).spf_authorises
    assert (
        check_sender_domain(DOMAIN, relay_ips=["203.0.113.9"], resolver=check).spf_authorises
        is False
    )


def test_broken_records_are_named(dns_server: Any) -> None:
    dns_server.records.update({
        (DOMAIN, "TXT"): txt("v=spf1 include:a.example -all", "v=spf1 +all"),
        (f"google._domainkey.{DOMAIN}", "TXT"): txt("v=DKIM1; k=rsa; p="),
    })  # fmt: skip
    report = check_sender_domain(DOMAIN, provider="google-workspace", resolver=resolver(dns_server))
    assert levels(report, "spf")[0][0] == "error" and "2 SPF records" in levels(report, "spf")[0][1]
    assert ("error", "the DKIM key google._domainkey.agapc.example is revoked (empty p=)") in (
        levels(report, "dkim")
    )
    dns_server.records[(DOMAIN, "TXT")] = txt("v=spf1 +all")
    report = check_sender_domain(DOMAIN, provider="google-workspace", resolver=resolver(dns_server))
    assert any("+all: it proves nothing" in m for _, m in levels(report, "spf"))


def test_more_than_ten_lookups_is_a_permerror(dns_server: Any) -> None:
    for i in range(12):
        dns_server.records[(f"s{i}.{DOMAIN}", "TXT")] = txt(f"v=spf1 include:s{i + 1}.{DOMAIN}")
    dns_server.records[(DOMAIN, "TXT")] = txt(f"v=spf1 include:s0.{DOMAIN} -all")
    report = check_sender_domain(DOMAIN, provider="microsoft365", resolver=resolver(dns_server))
    assert any(level == "error" and "more than 10 DNS look-ups" in m
               for level, m in levels(report, "spf"))  # fmt: skip
    assert len(dns_server.queries) < 20


def test_no_dns_means_not_checked(dns_server: Any) -> None:
    port = dns_server.port
    dns_server.stop()
    report = check_sender_domain(
        DOMAIN, provider="microsoft365", resolver=resolver_for(["127.0.0.1"], port=port, timeout=1)
    )
    assert [f.level for f in report.findings] == ["info"]
    assert "not checked" in report.findings[0].message and report.warnings == []


@pytest.mark.parametrize(
    ("record", "tags"),
    [
        ("v=DMARC1; p=reject; adkim=s", {"v": "DMARC1", "p": "reject", "adkim": "s"}),
        ("v=DMARC1;p=none;;rua=mailto:a@b", {"v": "DMARC1", "p": "none", "rua": "mailto:a@b"}),
    ],
)
def test_parse_dmarc(record: str, tags: dict[str, str]) -> None:
    assert parse_dmarc(record) == tags
