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
workspace           `open_release` (which release a command means), `open_workspace`,
                    `locate_target`, `start_workspace` (init), `create_release`,
                    `copy_templates`, `migrate_campaign`
audience            `Selection` (--only/--exclude), `load_audience`, `audience_rules`
contacts            `check_contacts`, `merge_contacts`, `contact_history`
preview             `collect_preview`, `collect_and_write_preview`, `write_preview`,
                    `live_preview` (a `LivePreview`, served by
                    `distrib.web.preview_server`); `preview_session` (a `PreviewSession`:
                    the audience at once, `render_one` on demand, `check_all` in the
                    background; the web interface)
test send           `test_send`
send                `prepare_send` (plan, settle interrupted runs, schedule), `wait_for_start`,
                    `send` (``stop=`` a `StopSwitch`: a Stop button); `prepare_resume` then
                    `send` to resume a run
audit               `open_log`, `find_run`, `make_filter`, `run_report`, `write_html_report`,
                    `html_report`, `export_run` (CSV/XLSX bytes to download),
                    `unknown_messages`, `resolve_unknown`, `suppression_list`,
                    `remove_suppression`
feedback            `unsubscribe`, `unsubscribe_from_mailbox`, `read_bounces`;
                    `token_index`, `unsubscribe_by_token` (one-click links, RFC 8058)
workspace (web)     `workspace_file`, `workspace_to_create`, `workspace_overview`,
                    `uploads_folder`; team accounts: `accounts_file`, `load_accounts`,
                    `add_account`, `remove_account`, `check_login`
releases            `import_release` (Word, web page, plain text → fr.md / en.md)
editing (web)       `update_workspace_settings`, `relay_presets`, `WorkspaceIdentity`;
                    `add_media_list`, `list_columns`, `list_names`, `map_list_columns`;
                    `list_releases`, `read_release_text`, `save_release_text`, `markdown_html`,
                    `attach_to_release`;
                    `audience_options`, `count_audience`, `save_audience`
relay               `relay_account`, `relay_login`, `sign_in_relay`, `relay_logout`,
                    `relay_check` (→ `Preflight` of `Step`s; a send runs `check_before_send`);
                    `mailbox_location`,
                    `imap_settings` (IMAP mailboxes for bounces and opt-outs)
getting started     `load_campaign`, `capture_mail`
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
    from distrib.app.accounts import (
        MIN_PASSWORD,
        USERS_FILE,
        Account,
        Accounts,
        accounts_file,
        add_account,
        check_login,
        load_accounts,
        remove_account,
    )
    from distrib.app.audience import Selection, audience_rules, load_audience
    from distrib.app.audit import (
        ACTIONS,
        SuppressionRemoved,
        export_run,
        find_run,
        html_report,
        make_filter,
        read_bounces,
        remove_suppression,
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
    from distrib.app.editing import (
        EDITABLE_SETTINGS,
        LIST_FIELDS,
        AudienceChoice,
        AudienceOptions,
        ListColumns,
        RelayPreset,
        ReleaseListing,
        ReleaseText,
        WorkspaceIdentity,
        add_media_list,
        attach_to_release,
        audience_options,
        count_audience,
        list_columns,
        list_names,
        list_releases,
        map_list_columns,
        markdown_html,
        read_release_text,
        relay_presets,
        release_path,
        save_audience,
        save_release_text,
        update_workspace_settings,
    )
    from distrib.app.logs import (
        interface_language,
        load_campaign,
        locate_log,
        log_name,
        open_log,
    )
    from distrib.app.overview import (
        WorkspaceOverview,
        release_named,
        uploads_folder,
        workspace_file,
        workspace_overview,
        workspace_to_create,
    )
    from distrib.app.previewing import (
        CheckProgress,
        LivePreview,
        PreviewMessage,
        PreviewSession,
        PreviewWritten,
        collect_and_write_preview,
        collect_preview,
        live_preview,
        load_preview_stages,
        preview_session,
        write_preview,
    )
    from distrib.app.relay import (
        IMAP_PASSWORD_ENV,
        PROVIDERS,
        imap_settings,
        mailbox_location,
        relay_account,
        relay_login,
        relay_logout,
        settings_mailbox,
        sign_in_relay,
        workspace_mailbox,
    )
    from distrib.app.relaycheck import (
        Preflight,
        RelayCheckError,
        Step,
        check_before_send,
        relay_check,
    )
    from distrib.app.releases import STDIN, import_release
    from distrib.app.replies import RepliesScope, read_replies, replies_scope

    # For showing: shaping what the verbs return, no decisions.
    from distrib.app.resuming import Joining, Resumption, Settled
    from distrib.app.sending import (
        Followup,
        ReleaseVersion,
        SendPreparation,
        SendResult,
        SendSummary,
        prepare_join,
        prepare_resume,
        prepare_send,
        send,
        wait_for_start,
    )
    from distrib.app.setup import capture_mail
    from distrib.app.testsend import TestSendOutcome
    from distrib.app.testsend import send_tests as test_send
    from distrib.app.unsubscribing import (
        OneClickResult,
        TokenIndex,
        token_index,
        token_known,
        unsubscribe_by_token,
    )
    from distrib.app.workspace import (
        NewRelease,
        Target,
        TemplatesCopied,
        copy_templates,
        create_release,
        locate_target,
        migrate_campaign,
        open_release,
        open_workspace,
        start_workspace,
    )
    from distrib.audit import (
        ATTEMPT_COLUMNS,
        STATE_ORDER,
        AttemptEntry,
        History,
        LogEntry,
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
    from distrib.audit import rows as export_rows
    from distrib.audit import run_summaries as list_runs
    from distrib.bounces import BounceOutcome
    from distrib.config import Campaign, display_path
    from distrib.contacts.model import AudienceSummary, ContactBook, SourceSummary
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
    from distrib.relay.imap import ImapSettings
    from distrib.relay.oauth import GoogleAccount, MicrosoftAccount, SignInPrompt
    from distrib.release_extras import format_size
    from distrib.render import RenderedMessage
    from distrib.replies import RecordedReply, ReplyOutcome
    from distrib.safetext import for_terminal
    from distrib.schedule import format_countdown
    from distrib.send import ABANDON_REASON, STOP_REASON, Progress, QuotaWait
    from distrib.send.stopping import StopSwitch
    from distrib.workspace import Migrated

#: Where each name lives: imported when first asked for.
_HOMES = {
    "distrib.app.audience": ("Selection", "audience_rules", "load_audience"),
    "distrib.app.editing": (
        "EDITABLE_SETTINGS",
        "LIST_FIELDS",
        "AudienceChoice",
        "AudienceOptions",
        "ListColumns",
        "RelayPreset",
        "ReleaseListing",
        "ReleaseText",
        "add_media_list",
        "attach_to_release",
        "audience_options",
        "count_audience",
        "list_columns",
        "list_names",
        "list_releases",
        "map_list_columns",
        "markdown_html",
        "read_release_text",
        "relay_presets",
        "release_path",
        "save_audience",
        "save_release_text",
        "update_workspace_settings",
        "WorkspaceIdentity",
    ),
    "distrib.app.accounts": (
        "MIN_PASSWORD", "USERS_FILE", "Account", "Accounts", "accounts_file", "add_account",
        "check_login", "load_accounts", "remove_account",
    ),
    "distrib.app.overview": (
        "WorkspaceOverview", "release_named", "uploads_folder", "workspace_file",
        "workspace_overview", "workspace_to_create",
    ),
    "distrib.app.unsubscribing": (
        "OneClickResult", "TokenIndex", "token_index", "token_known", "unsubscribe_by_token",
    ),
    "distrib.app.audit": (
        "ACTIONS", "SuppressionRemoved", "export_run", "find_run", "html_report", "make_filter",
        "read_bounces", "remove_suppression", "resolve_unknown", "run_report",
        "suppression_list", "unknown_messages", "unsubscribe", "unsubscribe_from_mailbox",
        "write_html_report",
    ),
    "distrib.app.contacts": (
        "MERGE_FORMATS", "Merged", "check_contacts", "contact_history", "merge_contacts",
    ),
    "distrib.app.logs": (
        "interface_language", "load_campaign", "locate_log", "log_name", "open_log",
    ),
    "distrib.app.previewing": (
        "CheckProgress", "LivePreview", "PreviewMessage", "PreviewSession", "PreviewWritten",
        "collect_and_write_preview", "collect_preview", "live_preview", "load_preview_stages",
        "preview_session", "write_preview",
    ),
    "distrib.app.sending": (
        "Followup", "ReleaseVersion", "SendPreparation", "SendResult", "SendSummary",
        "prepare_join", "prepare_resume", "prepare_send", "send", "wait_for_start",
    ),
    "distrib.app.releases": ("STDIN", "import_release"),
    "distrib.app.relay": ("IMAP_PASSWORD_ENV", "settings_mailbox", "workspace_mailbox",
        "PROVIDERS", "imap_settings", "mailbox_location", "relay_account", "relay_login",
        "relay_logout", "sign_in_relay",
    ),
    "distrib.app.relaycheck": (
        "Preflight", "RelayCheckError", "Step", "check_before_send", "relay_check",
    ),
    "distrib.app.setup": ("capture_mail",),
    "distrib.app.testsend": ("TestSendOutcome",),
    "distrib.app.workspace": (
        "NewRelease", "Target", "TemplatesCopied", "copy_templates", "create_release",
        "locate_target", "migrate_campaign", "open_release", "open_workspace", "start_workspace",
    ),
    # For showing (no decisions): where they live, imported as lightly as they can be.
    "distrib.audit": (
        "ATTEMPT_COLUMNS", "STATE_ORDER", "AttemptEntry", "History", "LogEntry", "LogFilter",
        "Report", "RunSummary",
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
    "distrib.send": ("ABANDON_REASON", "STOP_REASON", "Progress", "QuotaWait"),
    "distrib.send.stopping": ("StopSwitch",),
    # Types of the values the verbs return, for interfaces to name.
    "distrib.app.resuming": ("Joining", "Resumption", "Settled"),
    "distrib.bounces": ("BounceOutcome",),
    "distrib.contacts.model": ("AudienceSummary", "ContactBook", "SourceSummary"),
    "distrib.deliverylog": ("DeliveryLog", "MessageRow", "Run"),
    "distrib.optout": ("OptOutOutcome",),
    "distrib.workspace": ("Migrated",),
    "distrib.importing": ("ImportReport",),
    "distrib.relay.oauth": ("GoogleAccount", "MicrosoftAccount", "SignInPrompt"),
    "distrib.preview": ("PreviewEntry", "PreviewSet"),
    "distrib.problems": ("ProblemGroup", "group_problems"),
    "distrib.release_extras": ("format_size",),
    "distrib.render": ("RenderedMessage",),
    "distrib.relay.imap": ("ImapSettings",),
    "distrib.app.replies": ("RepliesScope", "read_replies", "replies_scope",),
    "distrib.replies": ("ReplyOutcome", "RecordedReply",),
}  # fmt: skip
_WHERE = {name: module for module, names in _HOMES.items() for name in names}
_ALIASES = {
    "test_send": ("distrib.app.testsend", "send_tests"),
    "list_runs": ("distrib.audit", "run_summaries"),
    "export_rows": ("distrib.audit", "rows"),
    "export_table": ("distrib.export", "write_table"),
}

__all__ = [
    "ABANDON_REASON",
    "ACTIONS",
    "ATTEMPT_COLUMNS",
    "EDITABLE_SETTINGS",
    "IMAP_PASSWORD_ENV",
    "LIST_FIELDS",
    "MERGE_FORMATS",
    "MIN_PASSWORD",
    "PROVIDERS",
    "STATE_ORDER",
    "STDIN",
    "STOP_REASON",
    "USERS_FILE",
    "Account",
    "Accounts",
    "AttemptEntry",
    "AudienceChoice",
    "AudienceOptions",
    "AudienceSummary",
    "BounceOutcome",
    "Campaign",
    "CheckProgress",
    "ContactBook",
    "DeliveryLog",
    "Followup",
    "Format",
    "GoogleAccount",
    "History",
    "ImapSettings",
    "ImportReport",
    "Joining",
    "ListColumns",
    "LivePreview",
    "LogEntry",
    "LogFilter",
    "Merged",
    "MessageRow",
    "MicrosoftAccount",
    "Migrated",
    "NewRelease",
    "OneClickResult",
    "OptOutOutcome",
    "Preflight",
    "PreviewEntry",
    "PreviewMessage",
    "PreviewSession",
    "PreviewSet",
    "PreviewWritten",
    "ProblemGroup",
    "Progress",
    "QuotaWait",
    "RecordedReply",
    "RelayCheckError",
    "RelayPreset",
    "ReleaseListing",
    "ReleaseText",
    "ReleaseVersion",
    "RenderedMessage",
    "RepliesScope",
    "ReplyOutcome",
    "Report",
    "Resumption",
    "Run",
    "RunSummary",
    "Selection",
    "SendPreparation",
    "SendResult",
    "SendSummary",
    "Settled",
    "SignInPrompt",
    "SourceSummary",
    "Step",
    "StopSwitch",
    "SuppressionRemoved",
    "Target",
    "TemplatesCopied",
    "TestSendOutcome",
    "TokenIndex",
    "Translator",
    "WorkspaceIdentity",
    "WorkspaceOverview",
    "accounts_file",
    "add_account",
    "add_media_list",
    "attach_to_release",
    "attempt_entries",
    "audience_options",
    "audience_rules",
    "capture_mail",
    "check_before_send",
    "check_contacts",
    "check_login",
    "clean",
    "collect_and_write_preview",
    "collect_preview",
    "contact_history",
    "copy_templates",
    "count_audience",
    "create_release",
    "current_language",
    "display_path",
    "export_rows",
    "export_run",
    "export_table",
    "find_run",
    "for_terminal",
    "format_countdown",
    "format_size",
    "format_time",
    "gettext",
    "group_problems",
    "html_report",
    "imap_settings",
    "import_release",
    "in_zone",
    "interface_language",
    "list_columns",
    "list_names",
    "list_releases",
    "list_runs",
    "live_preview",
    "load_accounts",
    "load_audience",
    "load_campaign",
    "load_preview_stages",
    "locate_log",
    "locate_target",
    "log_columns",
    "log_entries",
    "log_name",
    "mailbox_location",
    "make_filter",
    "map_list_columns",
    "markdown_html",
    "merge_contacts",
    "migrate_campaign",
    "ngettext",
    "open_log",
    "open_release",
    "open_workspace",
    "parse_zone",
    "pick_language",
    "prepare_join",
    "prepare_resume",
    "prepare_send",
    "preview_session",
    "read_bounces",
    "read_release_text",
    "read_replies",
    "relay_account",
    "relay_check",
    "relay_login",
    "relay_logout",
    "relay_presets",
    "release_named",
    "release_path",
    "remove_account",
    "remove_suppression",
    "replies_scope",
    "resolve_commands",
    "resolve_unknown",
    "run_report",
    "save_audience",
    "save_release_text",
    "send",
    "set_language",
    "settings_mailbox",
    "sign_in_relay",
    "start_workspace",
    "suppression_list",
    "test_send",
    "token_index",
    "token_known",
    "translator",
    "unknown_messages",
    "unsubscribe",
    "unsubscribe_by_token",
    "unsubscribe_from_mailbox",
    "update_workspace_settings",
    "uploads_folder",
    "wait_for_start",
    "workspace_file",
    "workspace_mailbox",
    "workspace_overview",
    "workspace_to_create",
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
