"""The optional mail-server check: does each domain of the list accept email at all?

Off by default (it needs the network and takes time); on with ``distrib contacts check
--check-mx`` or ``check_mx = true`` in the campaign's ``[contacts]`` table.  Each distinct domain
is looked up once, a few at a time, with email-validator's deliverability check (dnspython): an
MX record, else an A/AAAA record with a globally reachable address (RFC 5321 §5), and a "null
MX" (RFC 7505) means the domain takes no mail.  A domain that does not exist or takes no mail
rejects its rows; a lookup that times out or fails rejects nothing (it is not proof).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

from distrib.contacts.combine import DomainCheck

if TYPE_CHECKING:
    import dns.resolver

__all__ = ["mail_server_check", "make_resolver"]

_WORKERS = 8


def make_resolver(nameservers: Sequence[str] = (), timeout: float = 5.0) -> dns.resolver.Resolver:
    """Return a dnspython resolver: the system's, or the given ``host`` / ``host:port`` servers."""
    import dns.resolver

    resolver = dns.resolver.Resolver(configure=not nameservers)
    if nameservers:
        hosts, ports = [], set()
        for server in nameservers:
            host, _, port = server.rpartition(":") if server.count(":") == 1 else (server, "", "")
            hosts.append(host or server)
            ports.add(int(port) if port else 53)
        resolver.nameservers = hosts
        resolver.port = ports.pop() if len(ports) == 1 else 53
    resolver.lifetime = timeout
    resolver.timeout = timeout
    resolver.cache = dns.resolver.LRUCache()
    return resolver


def _reason(domain: str, resolver: dns.resolver.Resolver) -> str | None:
    from email_validator import EmailUndeliverableError
    from email_validator.deliverability import validate_email_deliverability

    try:
        validate_email_deliverability(domain, domain, dns_resolver=resolver)
    except EmailUndeliverableError as exc:
        return f"no mail server for {domain} ({exc})"
    return None


def mail_server_check(resolver: dns.resolver.Resolver) -> DomainCheck:
    """Return a `DomainCheck` that asks ``resolver`` about each distinct domain."""

    def check(domains: Sequence[str]) -> Mapping[str, str]:
        with ThreadPoolExecutor(max_workers=_WORKERS) as pool:
            reasons = list(pool.map(lambda d: _reason(d, resolver), domains))
        return {d: r for d, r in zip(domains, reasons, strict=True) if r is not None}

    return check
