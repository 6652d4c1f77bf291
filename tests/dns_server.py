"""A tiny authoritative DNS server for the tests: UDP on 127.0.0.1 (a free port), answering from
a dict with dnspython's own message code.  Names not in the zone get NXDOMAIN; a name with a
CNAME is followed, as real servers do for the records they hold."""

from __future__ import annotations

import socket
import threading

import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset

Zone = dict[tuple[str, str], list[str]]  # (name, type) -> record texts in zone-file syntax


class DNSServer:
    """``records[("agapc.example", "TXT")] = ['"v=spf1 include:_spf.google.com -all"']``."""

    def __init__(self, records: Zone | None = None) -> None:
        self.records: Zone = dict(records or {})
        self.queries: list[tuple[str, str]] = []
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._sock.bind(("127.0.0.1", 0))
        self.port = int(self._sock.getsockname()[1])
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def start(self) -> DNSServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._stop.is_set():
            return
        self._stop.set()
        # Wake the loop with one last datagram, then close.
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as wake:
            wake.sendto(b"\0", ("127.0.0.1", self.port))
        self._thread.join()
        self._sock.close()

    def _serve(self) -> None:
        while not self._stop.is_set():
            data, peer = self._sock.recvfrom(4096)
            if self._stop.is_set():
                return
            try:
                query = dns.message.from_wire(data)
            except Exception:  # not a DNS query: ignore it
                continue
            self._sock.sendto(self._answer(query).to_wire(), peer)

    def _answer(self, query: dns.message.Message) -> dns.message.Message:
        response = dns.message.make_response(query)
        response.flags |= dns.flags.AA
        question = query.question[0]
        name = question.name.to_text().rstrip(".").lower()
        kind = dns.rdatatype.to_text(question.rdtype)
        self.queries.append((name, kind))
        known = {n for n, _ in self.records}
        if name not in known:
            response.set_rcode(dns.rcode.NXDOMAIN)
            return response
        target = name
        for _ in range(5):
            cname = self.records.get((target, "CNAME"))
            if not cname or kind == "CNAME":
                break
            response.answer.append(dns.rrset.from_text(target + ".", 300, "IN", "CNAME", *cname))
            target = cname[0].rstrip(".").lower()
        texts = self.records.get((target, kind))
        if texts:
            response.answer.append(dns.rrset.from_text(target + ".", 300, "IN", kind, *texts))
        return response
