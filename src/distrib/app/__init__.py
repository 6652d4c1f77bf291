"""The application layer: the verbs a press officer uses, for every interface to call.

::

    interfaces      cli/ (typer + rich), web/ (the preview page; next, the workspace)
        │  call only this package: parse, call, show
        ▼
    application     distrib.app: one function per verb, typed inputs and results, never prints
        │  assembles the stages in order
        ▼
    stages          contacts, release, render, send, audit, bounces, opt-outs
        │
        ▼
    port            the delivery log

The verbs:

==================  ===========================================================================
contacts            `check_contacts`, `merge_contacts`, `contact_history`
preview             `collect_preview`, `write_preview` (served by `distrib.web.preview_server`)
test send           `test_send`
send                `prepare_send` (plan, settle interrupted runs, schedule), `wait_for_start`,
                    `send`; `prepare_resume` then `send` to resume a run
audit               `open_log`, `find_run`, `make_filter`, `run_report`, `write_html_report`,
                    `unknown_messages`, `resolve_unknown`, `suppression_list`
feedback            `unsubscribe`, `unsubscribe_from_mailbox`, `read_bounces`
releases            `import_release` (Word, web page, plain text → fr.md / en.md)
relay               `relay_account`, `relay_login`, `relay_logout`; `mailbox_location`,
                    `imap_settings` (IMAP mailboxes for bounces and opt-outs)
getting started     `load_campaign`, `start_campaign`, `capture_mail`
for showing         `list_runs`, `log_entries`, `attempt_entries`, `format_time`, `in_zone`,
                    `export_table`, `for_terminal` … (shaping only, no decisions)
words               `gettext`, `ngettext`, `set_language`, `pick_language`, `translator`
                    (distrib's own messages in French and English, `distrib.i18n`)
==================  ===========================================================================

Names are imported on first use (``distrib --help`` stays fast: the contacts stage alone pulls
in pandas).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from distrib.app.audit import (
        ACTIONS,
        find_run,
        make_filter,
        read_bounces,
        resolve_unknown,
        run_report,
        suppression_list,
        unknown_messages,
        unsubscribe,
        unsubscribe_from_mailbox,
        write_html_report,
    )
    from distrib.app.contacts import (
        MERGE_FORMATS,
        Merged,
        check_contacts,
        contact_history,
        merge_contacts,
    )
    from distrib.app.logs import load_campaign, locate_log, open_log
    from distrib.app.previewing import (
        LivePreview,
        PreviewWritten,
        collect_preview,
        live_preview,
        write_preview,
    )
    from distrib.app.relay import (
        PROVIDERS,
        imap_settings,
        mailbox_location,
        relay_account,
        relay_login,
        relay_logout,
    )
    from distrib.app.releases import STDIN, import_release

    # For showing: shaping what the verbs return, no decisions.
    from distrib.app.resuming import Resumption, Settled
    from distrib.app.sending import (
        Followup,
        ReleaseVersion,
        SendPreparation,
        SendResult,
        SendSummary,
        prepare_resume,
        prepare_send,
        send,
        wait_for_start,
    )
    from distrib.app.setup import capture_mail, start_campaign
    from distrib.app.testsend import TestSendOutcome
    from distrib.app.testsend import send_tests as test_send
    from distrib.audit import (
        ATTEMPT_COLUMNS,
        STATE_ORDER,
        History,
        LogFilter,
        Report,
        RunSummary,
        attempt_entries,
        format_time,
        in_zone,
        log_columns,
        log_entries,
        parse_zone,
        resolve_commands,
    )
    from distrib.audit import run_summaries as list_runs
    from distrib.bounces import BounceOutcome
    from distrib.config import Campaign, display_path
    from distrib.contacts.model import ContactBook, SourceSummary
    from distrib.deliverylog import DeliveryLog, MessageRow, Run
    from distrib.export import Format
    from distrib.export import write_table as export_table
    from distrib.i18n import (
        Translator,
        current_language,
        gettext,
        ngettext,
        pick_language,
        set_language,
        translator,
    )
    from distrib.importing import ImportReport
    from distrib.inbox import clean
    from distrib.optout import OptOutOutcome
    from distrib.preview import PreviewEntry, PreviewSet
    from distrib.problems import ProblemGroup, group_problems
    from distrib.relay.oauth import GoogleAccount, MicrosoftAccount, SignInPrompt
    from distrib.release_extras import format_size
    from distrib.render import RenderedMessage
    from distrib.safetext import for_terminal
    from distrib.schedule import format_countdown
    from distrib.send import ABANDON_REASON, STOP_REASON, Progress

#: Where each name lives: imported when first asked for.
_HOMES = {
    "distrib.app.audit": (
        "ACTIONS", "find_run", "make_filter", "read_bounces", "resolve_unknown", "run_report",
        "suppression_list", "unknown_messages", "unsubscribe", "unsubscribe_from_mailbox",
        "write_html_report",
    ),
    "distrib.app.contacts": (
        "MERGE_FORMATS", "Merged", "check_contacts", "contact_history", "merge_contacts",
    ),
    "distrib.app.logs": ("load_campaign", "locate_log", "open_log"),
    "distrib.app.previewing": (
        "LivePreview", "PreviewWritten", "collect_preview", "live_preview", "write_preview",
    ),
    "distrib.app.sending": (
        "Followup", "ReleaseVersion", "SendPreparation", "SendResult", "SendSummary",
        "prepare_resume",
        "prepare_send", "send", "wait_for_start",
    ),
    "distrib.app.releases": ("STDIN", "import_release"),
    "distrib.app.relay": (
        "PROVIDERS", "imap_settings", "mailbox_location", "relay_account", "relay_login",
        "relay_logout",
    ),
    "distrib.app.setup": ("capture_mail", "start_campaign"),
    "distrib.app.testsend": ("TestSendOutcome",),
    # For showing (no decisions): where they live, imported as lightly as they can be.
    "distrib.audit": (
        "ATTEMPT_COLUMNS", "STATE_ORDER", "History", "LogFilter", "Report", "RunSummary",
        "attempt_entries", "format_time", "in_zone", "log_columns", "log_entries", "parse_zone",
        "resolve_commands",
    ),
    "distrib.config": ("Campaign", "display_path"),
    "distrib.export": ("Format",),
    "distrib.i18n": (
        "Translator", "current_language", "gettext", "ngettext", "pick_language", "set_language",
        "translator",
    ),
    "distrib.inbox": ("clean",),
    "distrib.safetext": ("for_terminal",),
    "distrib.schedule": ("format_countdown",),
    "distrib.send": ("ABANDON_REASON", "STOP_REASON", "Progress"),
    # Types of the values the verbs return, for interfaces to name.
    "distrib.app.resuming": ("Resumption", "Settled"),
    "distrib.bounces": ("BounceOutcome",),
    "distrib.contacts.model": ("ContactBook", "SourceSummary"),
    "distrib.deliverylog": ("DeliveryLog", "MessageRow", "Run"),
    "distrib.optout": ("OptOutOutcome",),
    "distrib.importing": ("ImportReport",),
    "distrib.relay.oauth": ("GoogleAccount", "MicrosoftAccount", "SignInPrompt"),
    "distrib.preview": ("PreviewEntry", "PreviewSet"),
    "distrib.problems": ("ProblemGroup", "group_problems"),
    "distrib.release_extras": ("format_size",),
    "distrib.render": ("RenderedMessage",),
}  # fmt: skip
_WHERE = {name: module for module, names in _HOMES.items() for name in names}
_ALIASES = {
    "test_send": ("distrib.app.testsend", "send_tests"),
    "list_runs": ("distrib.audit", "run_summaries"),
    "export_table": ("distrib.export", "write_table"),
}

__all__ = [
    "ABANDON_REASON",
    "ACTIONS",
    "ATTEMPT_COLUMNS",
    "MERGE_FORMATS",
    "PROVIDERS",
    "STATE_ORDER",
    "STDIN",
    "STOP_REASON",
    "BounceOutcome",
    "Campaign",
    "ContactBook",
    "DeliveryLog",
    "Followup",
    "Format",
    "GoogleAccount",
    "History",
    "ImportReport",
    "LivePreview",
    "LogFilter",
    "Merged",
    "MessageRow",
    "MicrosoftAccount",
    "OptOutOutcome",
    "PreviewEntry",
    "PreviewSet",
    "PreviewWritten",
    "ProblemGroup",
    "Progress",
    "ReleaseVersion",
    "RenderedMessage",
    "Report",
    "Resumption",
    "Run",
    "RunSummary",
    "SendPreparation",
    "SendResult",
    "SendSummary",
    "Settled",
    "SignInPrompt",
    "SourceSummary",
    "TestSendOutcome",
    "Translator",
    "attempt_entries",
    "capture_mail",
    "check_contacts",
    "clean",
    "collect_preview",
    "contact_history",
    "current_language",
    "display_path",
    "export_table",
    "find_run",
    "for_terminal",
    "format_countdown",
    "format_size",
    "format_time",
    "gettext",
    "group_problems",
    "imap_settings",
    "import_release",
    "in_zone",
    "list_runs",
    "live_preview",
    "load_campaign",
    "locate_log",
    "log_columns",
    "log_entries",
    "mailbox_location",
    "make_filter",
    "merge_contacts",
    "ngettext",
    "open_log",
    "parse_zone",
    "pick_language",
    "prepare_resume",
    "prepare_send",
    "read_bounces",
    "relay_account",
    "relay_login",
    "relay_logout",
    "resolve_commands",
    "resolve_unknown",
    "run_report",
    "send",
    "set_language",
    "start_campaign",
    "suppression_list",
    "test_send",
    "translator",
    "unknown_messages",
    "unsubscribe",
    "unsubscribe_from_mailbox",
    "wait_for_start",
    "write_html_report",
    "write_preview",
]


def __getattr__(name: str) -> Any:
    if name in _ALIASES:
        module, attribute = _ALIASES[name]
        return getattr(importlib.import_module(module), attribute)
    if name in _WHERE:
        return getattr(importlib.import_module(_WHERE[name]), name)
    raise AttributeError(f"module 'distrib.app' has no attribute {name!r}")
