"""Delivery log stage: the SQLite record of every run, message and SMTP attempt."""

from distrib.deliverylog.states import ACTIVE, DONE, NEVER_SENT, PENDING, State
from distrib.deliverylog.store import (
    Attempt,
    DeliveryLog,
    MessageRow,
    NewMessage,
    Run,
    logged_suppressions,
    new_run_token,
    utcnow,
)

__all__ = [
    "ACTIVE",
    "DONE",
    "NEVER_SENT",
    "PENDING",
    "Attempt",
    "DeliveryLog",
    "MessageRow",
    "NewMessage",
    "Run",
    "State",
    "logged_suppressions",
    "new_run_token",
    "utcnow",
]
