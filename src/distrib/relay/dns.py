"""The sender domain's SPF, DKIM and DMARC records, read with dnspython, and what they mean for
mail sent through a given relay.

This is advice before a run, never a gate: receivers decide, and DNS may be unreachable from
the officer's network (then the checks say "not checked").  Each `Finding` is one sentence the
officer (or their IT) can act on.

* **SPF** (RFC 7208): the domain's one ``v=spf1`` record, followed through ``include:`` and
  ``redirect=`` (at most 10 DNS look-ups, as receivers count).  The relay is authorised when the
  provider's SPF domain is reached (``include:spf.protection.outlook.com`` for Microsoft 365,
  ``_spf.google.com`` for Google Workspace…), or when one of the relay's addresses is in an
  ``ip4``/``ip6``/``a``/``mx`` mechanism.
* **DKIM** (RFC 6376): a public key at ``<selector>._domainkey.<domain>`` (the configured
  selector, else the provider's usual ones: ``selector1``/``selector2`` for Microsoft 365,
  ``google`` for Google Workspace).  An empty ``p=`` means a revoked key.
* **DMARC** (RFC 7489): ``_dmarc.<domain>`` (else the parent domain's), its policy, and a
  warning when neither SPF nor DKIM could pass *aligned* with the From domain, so DMARC would
  fail and a ``quarantine``/``reject`` policy would send the release to spam or bounce it.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Literal

import dns.exception
import dns.name
import dns.resolver

__all__ = [
    "PROVIDER_DKIM_SELECTORS",
    "PROVIDER_SPF",
    "DomainReport",
    "Finding",
    "check_sender_domain",
    "parse_dmarc",
    "resolver_for",
]

Level = Literal["ok", "info", "warning", "error"]
Check = Literal["spf", "dkim", "dmarc", "dns"]

#: The SPF domain each provider asks customers to include.
PROVIDER_SPF = {
    "microsoft365": "spf.protection.outlook.com",
    "google-workspace": "_spf.google.com",
    "amazon-ses": "amazonses.com",
    "mailgun": "mailgun.org",
    "postmark": "spf.mtasv.net",
}
#: The DKIM selectors each provider sets up, tried when none is configured.
PROVIDER_DKIM_SELECTORS = {
    "microsoft365": ("selector1", "selector2"),
    "google-workspace": ("google",),
}
_LABELS = {
    "microsoft365": "Microsoft 365",
    "google-workspace": "Google Workspace",
    "amazon-ses": "Amazon SES",
    "mailgun": "Mailgun",
    "postmark": "Postmark",
}
_MAX_LOOKUPS = 10
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


@dataclass(frozen=True, slots=True)
class Finding:
    """One conclusion, for people."""

    level: Level
    check: Check
    message: str

    def __str__(self) -> str:
        return f"{self.level}: {self.check.upper()}: {self.message}"


@dataclass(frozen=True, slots=True)
class DomainReport:
    """What the sender domain publishes, and what follows for the relay."""

    domain: str
    spf: str | None = None
    spf_authorises: bool | None = None  # None: not known (no record, DNS down)
    dkim: dict[str, str] = field(default_factory=dict)  # selector -> record
    dmarc: str | None = None
    dmarc_policy: str | None = None
    findings: tuple[Finding, ...] = ()

    @property
    def warnings(self) -> list[Finding]:
        """The findings worth showing before a run."""
        return [f for f in self.findings if f.level in ("warning", "error")]


class _Unreachable(Exception):
    """DNS could not be asked (timeout, no server answered)."""


def resolver_for(
    nameservers: Sequence[str] | None = None, *, port: int = 53, timeout: float = 5.0
) -> dns.resolver.Resolver:
    """A resolver: the system's, or the given servers (and port); ``timeout`` per query."""
    if nameservers:
        resolver = dns.resolver.Resolver(configure=False)
        resolver.nameservers = list(nameservers)
        resolver.port = port
    else:
        resolver = dns.resolver.Resolver()
    resolver.lifetime = timeout
    resolver.timeout = timeout
    return resolver


def _clean(text: str, limit: int = 400) -> str:
    flat = " ".join(_CONTROL.sub(" ", text).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _txt(resolver: dns.resolver.Resolver, name: str) -> list[str]:
    """Every TXT string at ``name`` (its pieces joined), [] when there is none."""
    try:
        answer = resolver.resolve(name, "TXT")
    except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
        return []
    except (dns.resolver.NoNameservers, dns.exception.Timeout) as exc:
        raise _Unreachable(type(exc).__name__) from None
    except (dns.name.LabelTooLong, dns.name.EmptyLabel, dns.exception.SyntaxError):
        return []
    texts = []
    for record in answer:
        pieces = getattr(record, "strings", ())
        texts.append(b"".join(pieces).decode("utf-8", "replace"))
    return texts


def _addresses(resolver: dns.resolver.Resolver, name: str) -> list[str]:
    found: list[str] = []
    for kind in ("A", "AAAA"):
        try:
            found += [r.to_text() for r in resolver.resolve(name, kind)]
        except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
            continue
        except (dns.resolver.NoNameservers, dns.exception.Timeout) as exc:
            raise _Unreachable(type(exc).__name__) from None
    return found


def _mx_hosts(resolver: dns.resolver.Resolver, name: str) -> list[str]:
    try:
        return [r.exchange.to_text().rstrip(".") for r in resolver.resolve(name, "MX")]
    except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
        return []
    except (dns.resolver.NoNameservers, dns.exception.Timeout) as exc:
        raise _Unreachable(type(exc).__name__) from None


@dataclass
class _SpfWalk:
    resolver: dns.resolver.Resolver
    wanted_domain: str | None
    relay_ips: list[ipaddress.IPv4Address | ipaddress.IPv6Address]
    lookups: int = 0
    reached: list[str] = field(default_factory=list)
    via: str | None = None
    loose_all: str | None = None
    problems: list[str] = field(default_factory=list)

    def count(self) -> bool:
        self.lookups += 1
        if self.lookups > _MAX_LOOKUPS:
            if not any("10 DNS look-ups" in p for p in self.problems):
                self.problems.append(
                    "the record needs more than 10 DNS look-ups: receivers treat it as an error"
                    " (permerror)"
                )
            return False
        return True

    def has_ip(self, texts: Iterable[str], prefix: int | None = None) -> bool:
        for text in texts:
            try:
                network = ipaddress.ip_network(
                    f"{text}/{prefix}" if prefix is not None else text, strict=False
                )
            except ValueError:
                continue
            if any(ip.version == network.version and ip in network for ip in self.relay_ips):
                return True
        return False

    def walk(self, domain: str, record: str, depth: int = 0) -> bool:
        """True when ``record`` (of ``domain``) authorises the relay."""
        redirect = None
        for term in record.split()[1:]:
            if term.lower().startswith("redirect="):
                redirect = term.split("=", 1)[1]
                continue
            qualifier = term[0] if term[0] in "+-~?" else "+"
            name, _, value = term.lstrip("+-~?").partition(":")
            name = name.lower()
            if name == "all":
                if qualifier in "+?" and depth == 0:
                    self.loose_all = term
                return False  # what follows "all" is never read
            if qualifier == "+" and self._matches(domain, name, value, depth):
                self.via = self.via or term
                return True
        return redirect is not None and self._follow(redirect, f"redirect={redirect}", depth)

    def _matches(self, domain: str, name: str, value: str, depth: int) -> bool:
        if name == "include" and value:
            return self._follow(value, f"include:{value}", depth)
        if name in ("ip4", "ip6") and value:
            return self.has_ip([value])
        if name in ("a", "mx") and self.relay_ips and self.count():
            host, _, cidr = (value or domain).partition("/")
            prefix = int(cidr) if cidr.isdigit() else None
            hosts = [host] if name == "a" else _mx_hosts(self.resolver, host)
            return any(self.has_ip(_addresses(self.resolver, h), prefix) for h in hosts)
        if name in ("exists", "ptr", "a", "mx"):
            self.count()  # receivers count these look-ups too
        return False

    def _follow(self, target: str, label: str, depth: int) -> bool:
        target = target.lower().rstrip(".")
        if self.wanted_domain and target == self.wanted_domain:
            self.via = label
            return True
        if not self.count():  # also ends include loops
            return False
        self.reached.append(target)
        records = _spf_records(_txt(self.resolver, target))
        return any(self.walk(target, inner, depth + 1) for inner in records)


def _spf_records(texts: Iterable[str]) -> list[str]:
    return [t for t in texts if t.lower() == "v=spf1" or t.lower().startswith("v=spf1 ")]


def parse_dmarc(record: str) -> dict[str, str]:
    """The tags of a DMARC record (``v``, ``p``, ``sp``, ``adkim``, ``aspf``, ``pct``, ``rua``…)."""
    tags: dict[str, str] = {}
    for part in record.split(";"):
        key, sep, value = part.partition("=")
        if sep:
            tags[key.strip().lower()] = value.strip()
    return tags


def _organisational(domain: str) -> str | None:
    """The parent domain, for DMARC's fallback (without the public suffix list: one step)."""
    labels = domain.split(".")
    return ".".join(labels[1:]) if len(labels) > 2 else None


def check_sender_domain(
    domain: str,
    *,
    provider: str | None = None,
    relay_ips: Sequence[str] = (),
    dkim_selector: str | None = None,
    envelope_domain: str | None = None,
    resolver: dns.resolver.Resolver | None = None,
) -> DomainReport:
    """Read ``domain``'s SPF, DKIM and DMARC records and judge them for the relay.

    ``provider``: a preset name (its SPF include and DKIM selectors are looked for);
    ``relay_ips``: the relay's addresses, for a custom relay (or in addition);
    ``envelope_domain``: the MAIL FROM domain when it differs from the From domain.
    """
    domain = domain.strip().lower().rstrip(".")
    resolver = resolver or resolver_for()
    findings: list[Finding] = []
    ips = []
    for text in relay_ips:
        try:
            ips.append(ipaddress.ip_address(text))
        except ValueError:
            findings.append(Finding("info", "spf", f"{text!r} is not an IP address; ignored"))
    label = _LABELS.get(provider or "", "the relay")
    try:
        spf, authorises, spf_findings = _check_spf(resolver, domain, provider, ips, label)
        findings += spf_findings
        dkim, dkim_findings = _check_dkim(resolver, domain, provider, dkim_selector)
        findings += dkim_findings
        dmarc, policy, dmarc_findings = _check_dmarc(
            resolver, domain, spf_ok=bool(authorises), dkim_ok=bool(dkim),
            envelope_domain=envelope_domain,
        )  # fmt: skip
        findings += dmarc_findings
    except _Unreachable as exc:
        return DomainReport(domain, findings=(
            Finding("info", "dns", f"DNS could not be asked ({exc}): SPF, DKIM and DMARC of"
                                   f" {domain} not checked"),
        ))  # fmt: skip
    return DomainReport(domain, spf, authorises, dkim, dmarc, policy, tuple(findings))


def _check_spf(
    resolver: dns.resolver.Resolver,
    domain: str,
    provider: str | None,
    ips: list[ipaddress.IPv4Address | ipaddress.IPv6Address],
    label: str,
) -> tuple[str | None, bool | None, list[Finding]]:
    records = _spf_records(_txt(resolver, domain))
    wanted = PROVIDER_SPF.get(provider or "")
    if not records:
        add = f": add include:{wanted}" if wanted else ""
        return None, None, [Finding("warning", "spf", f"{domain} has no SPF record{add}")]
    if len(records) > 1:
        return records[0], False, [Finding(
            "error", "spf", f"{domain} has {len(records)} SPF records; receivers reject them all"
                            " (permerror): merge them into one")]  # fmt: skip
    record = _clean(records[0])
    if wanted is None and not ips:
        return (
            record,
            None,
            [
                Finding(
                    "info",
                    "spf",
                    f"{domain} has an SPF record; give the relay's addresses to check it",
                )
            ],
        )
    walk = _SpfWalk(resolver, wanted, ips)
    authorises = walk.walk(domain, records[0])
    findings = [Finding("error", "spf", p) for p in walk.problems]
    if authorises:
        findings.append(Finding("ok", "spf", f"{domain} authorises {label} ({walk.via})"))
    else:
        fix = f": add include:{wanted}" if wanted else ": add the relay's addresses"
        findings.append(
            Finding("warning", "spf", f"the SPF record of {domain} does not authorise {label}{fix}")
        )
    if walk.loose_all:
        findings.append(Finding(
            "warning", "spf", f"{domain}'s SPF ends with {walk.loose_all}: it proves nothing;"
                              " end it with ~all or -all"))  # fmt: skip
    return record, authorises, findings


def _check_dkim(
    resolver: dns.resolver.Resolver, domain: str, provider: str | None, selector: str | None
) -> tuple[dict[str, str], list[Finding]]:
    selectors = (selector,) if selector else PROVIDER_DKIM_SELECTORS.get(provider or "", ())
    if not selectors:
        return {}, [Finding("info", "dkim", "no DKIM selector configured: not checked")]
    found: dict[str, str] = {}
    findings: list[Finding] = []
    for name in selectors:
        texts = [t for t in _txt(resolver, f"{name}._domainkey.{domain}") if "p=" in t]
        if not texts:
            continue
        tags = parse_dmarc(texts[0])
        if not tags.get("p"):
            findings.append(Finding("error", "dkim", f"the DKIM key {name}._domainkey.{domain}"
                                                     " is revoked (empty p=)"))  # fmt: skip
            continue
        found[name] = _clean(texts[0], 120)
    if found:
        listed = ", ".join(f"{s}._domainkey.{domain}" for s in found)
        findings.append(Finding("ok", "dkim", f"DKIM key published: {listed}"))
    elif not findings:
        names = ", ".join(f"{s}._domainkey.{domain}" for s in selectors)
        findings.append(Finding("warning", "dkim", f"no DKIM key at {names}"))
    return found, findings


def _check_dmarc(
    resolver: dns.resolver.Resolver,
    domain: str,
    *,
    spf_ok: bool,
    dkim_ok: bool,
    envelope_domain: str | None,
) -> tuple[str | None, str | None, list[Finding]]:
    records: list[str] = []
    where = domain
    for candidate in (domain, _organisational(domain)):
        if candidate is None:
            continue
        records = [t for t in _txt(resolver, f"_dmarc.{candidate}") if t.startswith("v=DMARC1")]
        if records:
            where = candidate
            break
    if not records:
        return (
            None,
            None,
            [
                Finding(
                    "warning",
                    "dmarc",
                    f"{domain} has no DMARC record: Gmail and Yahoo require one from"
                    ' bulk senders (e.g. "v=DMARC1; p=none; rua=mailto:…")',
                )
            ],
        )
    record = _clean(records[0])
    tags = parse_dmarc(record)
    policy = tags.get("sp", tags.get("p")) if where != domain else tags.get("p")
    policy = (policy or "none").lower()
    findings = [Finding("ok", "dmarc", f"DMARC policy of {where}: p={policy}")]
    envelope = (envelope_domain or domain).lower()
    spf_aligned = spf_ok and (
        envelope == domain
        if tags.get("aspf", "r").lower() == "s"
        else envelope in (domain, where) or envelope.endswith("." + where)
    )
    if not spf_aligned and not dkim_ok:
        consequence = {
            "reject": "receivers will refuse the release",
            "quarantine": "receivers will put the release in spam",
        }.get(policy, "receivers may distrust the release, and reports will show failures")
        findings.append(Finding(
            "warning", "dmarc", f"DMARC would fail for {domain}: neither SPF nor DKIM passes"
                                f" aligned with the From domain; {consequence}"))  # fmt: skip
    return record, policy, findings
