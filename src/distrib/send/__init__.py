"""Sending stage: SMTP transport, rate limiting and dispatch (the only async code in distrib)."""

from distrib.send.engine import ABANDON_REASON, RECONNECT_ATTEMPTS, STOP_REASON, send_messages
from distrib.send.model import Outgoing, Progress, QuotaWait, SendReport
from distrib.send.policy import Reply, backoff, enhanced_code
from distrib.send.ratelimit import Pacer, Rate, Window
from distrib.send.transport import build_tls_context

__all__ = [
    "ABANDON_REASON",
    "RECONNECT_ATTEMPTS",
    "STOP_REASON",
    "Outgoing",
    "Pacer",
    "Progress",
    "QuotaWait",
    "Rate",
    "Reply",
    "SendReport",
    "Window",
    "backoff",
    "build_tls_context",
    "enhanced_code",
    "send_messages",
]
