"""What to send, to whom, from whom and how: the settings and the `Campaign` they make.

A `Campaign` is everything needed to send ONE release.  It comes from a workspace (the
``distrib.toml`` file, shared by every release, plus one release folder and its optional
``release.toml``: see `distrib.workspace`), or from a standalone campaign file
(``campaign.toml``, a one-release workspace: `load_campaign`).  `Settings` are the keys both
files share.

Loaded once at the edge, validated with frozen pydantic models, and passed down.  Every relative
path is resolved against the folder of the file that holds it.  Every problem is collected and
reported as ``campaign.toml: key: reason``.  The SMTP password is never in a file: the file names
an environment variable (`SMTPConfig.password_env`) and `smtp_password` reads it.
"""

from __future__ import annotations

import ipaddress
import os
import re
import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from distrib.errors import ConfigError, Location, Problem
from distrib.headers import find_forbidden

__all__ = [
    "AudienceConfig",
    "AudienceRules",
    "Campaign",
    "ContactsConfig",
    "DKIMConfig",
    "LimitsConfig",
    "OAuthConfig",
    "PressConfig",
    "SMTPConfig",
    "SenderConfig",
    "Settings",
    "SourceConfig",
    "config_problems",
    "display_path",
    "load_campaign",
    "missing_paths",
    "read_toml",
    "smtp_password",
    "unknown_segments",
]

Language = Literal["fr", "en"]


def display_path(path: Path) -> str:
    """Show ``path`` relative to the working directory when it is inside it, else absolute."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _resolve(value: Any, info: ValidationInfo) -> Any:
    """Resolve a relative path against the campaign folder given in the validation context."""
    base = (info.context or {}).get("base")
    if isinstance(value, str) and "://" in value:
        return value  # a URL (the delivery log on a server), not a path
    if isinstance(value, str | Path) and base is not None:
        path = Path(value).expanduser()
        return path if path.is_absolute() else (Path(base) / path).resolve()
    return value


class _Frozen(BaseModel):
    # allow_inf_nan=False: `inf` and `nan` are valid TOML floats, but no delay, timeout or rate
    # of distrib means anything infinite (they ended in an overflow while sending).
    model_config = ConfigDict(
        frozen=True, extra="forbid", str_strip_whitespace=True, allow_inf_nan=False
    )


_LABEL = re.compile(r"(?!-)[A-Za-z0-9_-]{1,63}(?<!-)")


def _check_host(value: str, *, literal_brackets: bool) -> str:
    """Accept a DNS host name or an IP address; refuse spaces and control characters.

    ``literal_brackets``: an address is written as an SMTP address literal, ``[192.0.2.1]`` or
    ``[IPv6:2001:db8::1]`` (what EHLO takes); else bare, as for connecting.
    """
    if literal_brackets and value.startswith("[") and value.endswith("]"):
        inner = value[1:-1]
        inner = inner[5:] if inner[:5].lower() == "ipv6:" else inner
        try:
            ipaddress.ip_address(inner)
        except ValueError:
            raise ValueError(f"{value!r} is not an address literal such as [192.0.2.1]") from None
        return value
    if not literal_brackets:
        try:
            ipaddress.ip_address(value)
        except ValueError:
            pass
        else:
            return value
    labels = value.removesuffix(".").split(".")
    if len(value) > 253 or not all(_LABEL.fullmatch(label) for label in labels):
        example = "mail.agapc.example or [192.0.2.1]" if literal_brackets else "smtp.agapc.example"
        raise ValueError(
            f"{value!r} is not a host name (letters, digits, hyphens and dots, e.g. {example})"
        )
    return value


def _check_header_text(value: str | None) -> str | None:
    if value is not None:
        reason = find_forbidden(value)
        if reason is not None:
            raise ValueError(f"contains a {reason}; header text must be a single line")
    return value


def unsubscribe_url_problem(url: str) -> str | None:
    """Why ``url`` cannot be the one-click unsubscribe link of List-Unsubscribe, or None.

    The one rule for ``unsubscribe_url``: the settings refuse at load and save what the
    renderer would refuse in every message (`distrib.render.unsubscribe.check_url`)."""
    reason = find_forbidden(url)
    if reason is not None:
        return f"contains a {reason}; header text must be a single line"
    if re.search(r"[\s<>\"]", url):
        return "must not hold spaces, quotes or <> (percent-encode them, e.g. %20)"
    if not url.isascii():
        try:
            host = urlsplit(url).hostname or ""
            ascii_host = host.encode("idna").decode("ascii") if not host.isascii() else ""
        except (ValueError, UnicodeError):  # not a URL, or a host IDNA cannot encode
            host = ascii_host = ""
        if ascii_host:
            return (
                f"must be ASCII (a header holds it): write the host {host!r} as {ascii_host!r}"
                " and percent-encode any other accent"
            )
        return "must be ASCII (a header holds it): percent-encode accents, e.g. %C3%A9"
    if not url.startswith("https://"):
        return "must be an https:// URL (RFC 8058 one-click unsubscribe)"
    return None


def _check_address(value: str | None) -> str | None:
    """Validate an email address with email-validator (no DNS), keeping it as written."""
    if value is None:
        return None
    _check_header_text(value)
    from email_validator import EmailNotValidError, validate_email

    try:
        validate_email(value, check_deliverability=False)
    except EmailNotValidError as exc:
        raise ValueError(f"not a valid email address ({exc})") from None
    return value


def _env_variable_name(value: str, example: str = "") -> str:
    """``value`` if it can name an environment variable (where a secret is read from)."""
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", value):
        hint = f", e.g. {example}" if example else ""
        raise ValueError(f"must be the name of an environment variable{hint}")
    return value


class SourceConfig(_Frozen):
    """One contact file.  Sources win in campaign order, unless ``priority`` says otherwise
    (1 before 2; sources without one come after those with one).  ``sheet``: a name, a list of
    names, or ``"*"`` for every sheet (default: the first)."""

    path: Path
    encoding: str | None = None
    delimiter: str | None = None
    sheet: str | tuple[str, ...] | None = None
    columns: dict[str, str] = Field(default_factory=dict)
    priority: Annotated[int, Field(ge=-1_000_000, le=1_000_000)] | None = None
    # The language of this list's rows whose language cell is blank or unknown (before the
    # campaign's default_language), e.g. "en" for an English-language media list.
    language: Language | None = None
    # The list's name in audience rules (`list = "..."`); default: its file name.
    name: str | None = None

    _resolve_path = field_validator("path", mode="before")(_resolve)

    @field_validator("name")
    @classmethod
    def _list_name(cls, value: str | None) -> str | None:
        if value is not None and (not value or find_forbidden(value)):
            raise ValueError("must be a non-empty single line")
        return value

    @property
    def list_name(self) -> str:
        """The name audience rules use for this list: ``name``, else the file's name."""
        return self.name or self.path.name

    @field_validator("delimiter")
    @classmethod
    def _one_char(cls, value: str | None) -> str | None:
        if value is not None and value != "\t" and len(value) != 1:
            raise ValueError("must be one character, e.g. ';' or '\\t'")
        return value


class SenderConfig(_Frozen):
    """Who the message is from, and the identification CASL and CAN-SPAM require in the footer."""

    name: str
    address: str
    reply_to: str | None = None
    organisation: str
    postal_address: str
    contact: str | None = None
    website: str | None = None
    unsubscribe_mailto: str | None = None
    unsubscribe_url: str | None = None
    # The environment variable holding the secret that makes per-recipient unsubscribe tokens.
    unsubscribe_secret_env: str = "DISTRIB_UNSUBSCRIBE_SECRET"  # noqa: S105 (a name)
    list_id: str | None = None  # the List-Id, e.g. "communiques.agapc.example"

    _names = field_validator("name", "organisation")(_check_header_text)

    @field_validator("unsubscribe_secret_env")
    @classmethod
    def _secret_env_name(cls, value: str) -> str:
        return _env_variable_name(value)

    @field_validator("list_id")
    @classmethod
    def _list_id(cls, value: str | None) -> str | None:
        # RFC 2919: a dot-atom, conventionally a name under a domain the sender controls.
        if value is not None and not re.fullmatch(r"[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+", value):
            raise ValueError("must look like a host name, e.g. communiques.agapc.example")
        return value

    _addresses = field_validator("address", "reply_to", "unsubscribe_mailto")(_check_address)

    @field_validator("unsubscribe_url")
    @classmethod
    def _https(cls, value: str | None) -> str | None:
        if value is not None:
            reason = unsubscribe_url_problem(value)
            if reason is not None:
                raise ValueError(reason)
        return value

    @property
    def domain(self) -> str:
        """The sender's domain, used for Message-IDs."""
        return self.address.rpartition("@")[2].lower()

    @property
    def unsubscribe_address(self) -> str:
        """The mailbox that receives unsubscribe requests (defaults to the sender address)."""
        return self.unsubscribe_mailto or self.address


class OAuthConfig(_Frozen):
    """How distrib gets OAuth2 tokens for the relay (``[smtp.oauth]``, with ``auth = "oauth2"``).

    ``provider``: whose sign-in (default: the preset's).  Microsoft 365: ``tenant`` and
    ``client_id`` of the app registration (``client_secret_env`` for a service account,
    client credentials).  Google Workspace: ``client_secrets`` (the Desktop app client's JSON
    file) or ``service_account_key``.  ``authority_host`` (Microsoft's sign-in service, another
    cloud) and ``ca_file`` (CA certificates for the sign-in service) are rarely needed.
    ``keyring``: the sign-in is kept in the OS keyring rather than a 0600 file.
    ``mechanism``: ``XOAUTH2`` (what both providers document) or ``OAUTHBEARER`` (RFC 7628),
    each used only when the relay offers it.
    """

    provider: Literal["microsoft365", "google-workspace"] | None = None
    tenant: str | None = None
    client_id: str | None = None
    client_secret_env: str | None = None
    client_secrets: Path | None = None
    service_account_key: Path | None = None
    authority_host: str = "https://login.microsoftonline.com"
    ca_file: Path | None = None
    keyring: bool = False
    mechanism: Literal["XOAUTH2", "OAUTHBEARER"] = "XOAUTH2"

    _resolve_files = field_validator(
        "client_secrets", "service_account_key", "ca_file", mode="before"
    )(_resolve)

    @field_validator("tenant", "client_id")
    @classmethod
    def _one_line(cls, value: str | None) -> str | None:
        if value is not None and (not value or find_forbidden(value) or " " in value):
            raise ValueError("must be one word, without spaces or control characters")
        return value

    @field_validator("client_secret_env")
    @classmethod
    def _env(cls, value: str | None) -> str | None:
        return None if value is None else _env_variable_name(value)

    @field_validator("authority_host")
    @classmethod
    def _https(cls, value: str) -> str:
        if not re.fullmatch(r"https://[A-Za-z0-9.\-]+(:[0-9]{1,5})?/?", value):
            raise ValueError("must be an https:// address, e.g. https://login.microsoftonline.com")
        return value.rstrip("/")


class SMTPConfig(_Frozen):
    """The relay.  ``security`` is ``tls`` (implicit TLS, port 465), ``starttls`` (required, never
    optional) or ``none`` (only for a local capture server).

    ``preset`` (`distrib.relay.presets`) fills ``host``, ``port`` and ``security`` (and the
    ``[limits]`` quotas, see `Settings`) from what the provider documents; a key set here wins.
    ``region``: Amazon SES's region.  ``auth``: ``password`` (from ``password_env``) or
    ``oauth2`` (tokens from ``[smtp.oauth]``; ``username`` defaults to the sender's address).
    """

    preset: (
        Literal["microsoft365", "google-workspace", "amazon-ses", "mailgun", "postmark", "custom"]
        | None
    ) = None
    region: str | None = None
    auth: Literal["password", "oauth2"] = "password"
    oauth: OAuthConfig | None = None
    host: str = "127.0.0.1"
    port: Annotated[int, Field(ge=1, le=65535)] = 587
    security: Literal["none", "starttls", "tls"] = "starttls"
    username: str | None = None
    password_env: str = "DISTRIB_SMTP_PASSWORD"  # noqa: S105 (a variable name, not a secret)
    timeout: Annotated[float, Field(gt=0, le=3600)] = 60.0
    data_timeout: Annotated[float, Field(gt=0, le=3600)] = 600.0
    local_hostname: str | None = None
    validate_certs: bool = True
    ca_file: Path | None = None

    _resolve_ca = field_validator("ca_file", mode="before")(_resolve)

    @field_validator("host")
    @classmethod
    def _host(cls, value: str) -> str:
        return _check_host(value, literal_brackets=False)

    @field_validator("local_hostname")
    @classmethod
    def _ehlo_name(cls, value: str | None) -> str | None:
        # What EHLO says: it goes on the wire as is, so no space or control character.
        return None if value is None else _check_host(value, literal_brackets=True)

    @field_validator("password_env")
    @classmethod
    def _env_name(cls, value: str) -> str:
        return _env_variable_name(value, "DISTRIB_SMTP_PASSWORD")

    @model_validator(mode="before")
    @classmethod
    def _no_password_in_file(cls, data: Any) -> Any:
        if isinstance(data, dict) and "password" in data:
            raise ValueError(
                "'password' is not read from the campaign file; put the password in the "
                "environment variable named by smtp.password_env"
            )
        return data

    @model_validator(mode="before")
    @classmethod
    def _from_preset(cls, data: Any) -> Any:
        """Fill host, port and security from ``preset``; an explicit key wins."""
        if not isinstance(data, dict) or not isinstance(data.get("preset"), str):
            return data
        from distrib.errors import DistribError
        from distrib.relay.presets import PRESETS, merge

        if data["preset"] not in PRESETS:
            return data  # reported by the field's own check
        given = {k: data[k] for k in ("host", "port", "security", "region") if k in data}
        try:
            merged = merge(data["preset"], given)
        except (DistribError, ValueError, TypeError) as exc:  # PresetError, a bad port
            raise ValueError(str(exc).removeprefix("relay: ")) from None
        return {**data, "host": merged.host, "port": merged.port, "security": merged.security}

    @model_validator(mode="after")
    def _oauth_settings(self) -> SMTPConfig:
        if self.auth != "oauth2":
            return self
        if self.security == "none":
            raise ValueError(
                'auth = "oauth2" needs security = "starttls" or "tls": a token is never sent'
                " over an unencrypted connection"
            )
        if self.oauth_provider is None:
            raise ValueError(
                'auth = "oauth2": say whose sign-in with preset = "microsoft365" or'
                ' "google-workspace", or [smtp.oauth] provider'
            )
        oauth = self.oauth or OAuthConfig()
        if self.oauth_provider == "microsoft365" and not (oauth.tenant and oauth.client_id):
            raise ValueError(
                "oauth: Microsoft 365 needs tenant and client_id (the app registration)"
            )
        if self.oauth_provider == "google-workspace" and (
            (oauth.client_secrets is None) == (oauth.service_account_key is None)
        ):
            raise ValueError(
                "oauth: Google Workspace needs client_secrets or service_account_key (one)"
            )
        return self

    @property
    def oauth_provider(self) -> Literal["microsoft365", "google-workspace"] | None:
        """Whose OAuth2 sign-in: ``[smtp.oauth] provider``, else the preset's (if it has one)."""
        if self.oauth is not None and self.oauth.provider is not None:
            return self.oauth.provider
        if self.preset in ("microsoft365", "google-workspace"):
            return self.preset
        return None


class MailboxConfig(_Frozen):
    """The workspace's mailbox (``[mailbox]``): where bounces, opt-outs and replies arrive, read
    by `distrib bounces`, `distrib unsubscribe --mailbox` and `distrib replies` when no mailbox
    is named on the command line.

    ``url``: ``imaps://USER@HOST[:PORT]/FOLDER`` or ``imap://…`` (STARTTLS); without it, the
    ``[smtp] preset``'s IMAP host (Microsoft 365, Google Workspace), the relay's user name and
    ``folder``.  ``auth``: ``password`` (from ``password_env``) or ``oauth2`` (the relay's
    sign-in, `distrib relay login --mailbox`); default: the relay's.  ``sent_copy``: after a
    send, append a copy of the run's first sent message (``first``) or of each (``each``) to
    the mailbox's Sent folder (the server's SPECIAL-USE ``\\Sent`` folder, else
    ``sent_folder``); ``none`` (the default) appends nothing.
    """

    url: str | None = None
    folder: str = "INBOX"
    sent_copy: Literal["none", "first", "each"] = "none"
    sent_folder: str = "Sent"
    auth: Literal["password", "oauth2"] | None = None
    password_env: str = "DISTRIB_IMAP_PASSWORD"  # noqa: S105 (a variable name, not a secret)
    ca_file: Path | None = None

    _resolve_ca = field_validator("ca_file", mode="before")(_resolve)

    @field_validator("url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        from distrib.errors import DistribError
        from distrib.relay.imap import MailboxURL

        try:
            MailboxURL.parse(value)
        except DistribError as exc:  # ImapError: says what is wrong, never a password
            raise ValueError(str(exc).removeprefix("imap: ")) from None
        return value

    @field_validator("folder", "sent_folder")
    @classmethod
    def _folder(cls, value: str) -> str:
        if not value.strip() or find_forbidden(value):
            raise ValueError("must be a folder name on one line")
        return value

    @field_validator("password_env")
    @classmethod
    def _env_name(cls, value: str) -> str:
        return _env_variable_name(value, "DISTRIB_IMAP_PASSWORD")

    @model_validator(mode="before")
    @classmethod
    def _no_password_in_file(cls, data: Any) -> Any:
        if isinstance(data, dict) and "password" in data:
            raise ValueError(
                "'password' is not read from the settings; put the mailbox's password in the "
                "environment variable named by mailbox.password_env"
            )
        return data


class DKIMConfig(_Frozen):
    """DKIM signing: ``selector._domainkey.domain`` publishes the public key of ``key_file``."""

    selector: str
    domain: str
    key_file: Path

    _resolve_key = field_validator("key_file", mode="before")(_resolve)

    @field_validator("selector", "domain")
    @classmethod
    def _label(cls, value: str) -> str:
        if not re.fullmatch(r"[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*", value):
            raise ValueError("must be DNS labels separated by dots, e.g. s2027 or agapc.example")
        return value


_DAY = 86_400  # seconds: the longest retry delay that makes sense within one run
_BIG = 1_000_000_000  # a count no campaign reaches, well inside SQLite's 64-bit integers


class LimitsConfig(_Frozen):
    """How fast to send.  ``rate`` is messages per second for the whole run (0 means no limit).

    ``per_minute`` / ``per_hour`` / ``per_day``: relay quotas, never exceeded in any sliding
    window (0: none), counting what the delivery log shows the same relay was handed by every
    run and release (`distrib.send.quota`).
    ``burst``: how many messages may leave at once before ``rate`` spaces them.
    ``per_domain``: messages per second to one recipient domain (0: none), ``domain_burst`` its
    burst, ``domains`` a rate per domain overriding ``per_domain`` (e.g. a strict newsroom).
    ``messages_per_connection``: reconnect after this many messages (0: never).
    ``pause_after``: pause the run after this many policy rejections (5.7.x) or throttling
    replies (421, 4.7.x) in a row (0: never pause).
    ``suppress_codes``: a permanent refusal of a recipient with one of these enhanced status
    codes ("no such user") puts the address on the workspace's suppression list.
    """

    rate: Annotated[float, Field(ge=0, le=100_000)] = 10.0
    connections: Annotated[int, Field(ge=1, le=64)] = 2
    retries: Annotated[int, Field(ge=0, le=20)] = 3
    retry_delay: Annotated[float, Field(ge=0, le=_DAY)] = 30.0
    max_retry_delay: Annotated[float, Field(ge=0, le=_DAY)] = 900.0
    burst: Annotated[int, Field(ge=1, le=100_000)] = 1
    per_minute: Annotated[int, Field(ge=0, le=_BIG)] = 0
    per_hour: Annotated[int, Field(ge=0, le=_BIG)] = 0
    per_day: Annotated[int, Field(ge=0, le=_BIG)] = 0
    per_domain: Annotated[float, Field(ge=0, le=100_000)] = 0.0
    domain_burst: Annotated[int, Field(ge=1, le=100_000)] = 1
    domains: dict[str, Annotated[float, Field(gt=0, le=100_000)]] = Field(default_factory=dict)
    messages_per_connection: Annotated[int, Field(ge=0, le=_BIG)] = 100
    pause_after: Annotated[int, Field(ge=0, le=_BIG)] = 10
    suppress_codes: tuple[str, ...] = ("5.1.1", "5.1.0", "5.1.10")

    @field_validator("suppress_codes")
    @classmethod
    def _suppress_codes(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        codes = tuple(code.strip() for code in value)
        for code in codes:
            if not re.fullmatch(r"5\.\d{1,3}\.\d{1,3}", code):
                raise ValueError(f'{code!r} is not a permanent enhanced status code (e.g. "5.1.1")')
        return codes

    @field_validator("domains")
    @classmethod
    def _domain_keys(cls, value: dict[str, float]) -> dict[str, float]:
        cleaned: dict[str, float] = {}
        for domain, rate in value.items():
            key = domain.strip().lower().lstrip("@")
            try:
                ascii_key = key.encode("idna").decode("ascii")  # as addresses go on the wire
            except UnicodeError:
                ascii_key = ""
            if not ascii_key or "@" in key or find_forbidden(key):
                raise ValueError(f'{domain!r} is not a domain name (e.g. "lapresse.example")')
            cleaned[ascii_key] = rate
        return cleaned


class ContactsConfig(_Frozen):
    """How contact files are read and checked (the campaign file's ``[contacts]`` table)."""

    max_file_mb: Annotated[int, Field(ge=1, le=65_536)] = 256
    max_cell_chars: Annotated[int, Field(ge=1, le=_BIG)] = 32_767
    # The size of one sheet or text table: checked before a workbook is read, so a small file
    # that declares (or really has) a cell at XFD1048576 cannot make the reader allocate
    # rows x columns cells.  1,048,576 rows and 16,384 columns are Excel's own maxima.
    max_rows: Annotated[int, Field(ge=1, le=_BIG)] = 1_048_576
    max_columns: Annotated[int, Field(ge=1, le=16_384)] = 1_000
    max_cells: Annotated[int, Field(ge=1, le=_BIG)] = 20_000_000
    check_mx: bool = False
    mx_timeout: Annotated[float, Field(gt=0, le=300)] = 5.0
    mx_nameservers: tuple[str, ...] = ()


def _check_zone(value: str | None) -> str | None:
    if value is None:
        return None
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"{value!r} is not a time zone (e.g. America/Toronto)") from None
    return value


class PressConfig(_Frozen):
    """How the release reads in each message: the ``[press]`` table of the workspace file (or
    campaign file), which a release's ``release.toml`` may override key by key.

    ``time_zone``: the zone a front-matter time with only an offset is shown in when the zone
    has that offset then (``-05:00`` in winter reads HNE / ET).  ``embargo_in_subject``: an
    embargoed release's subject starts with ``EMBARGO 1er mars 9 h HNE –``.
    ``immediate_release``: a release without an embargo carries the label "Pour diffusion
    immédiate" / "For immediate release" (``immediate_release_fr``/``_en`` replace the text).
    ``time_zone`` defaults to the settings' ``timezone`` when that is given.

    ``images``: the release's images (``![caption](photo.jpg)``) are shown in the HTML part
    (``"inline"``, parts of a ``multipart/related``) or sent as attachments
    (``"attachments"``); ``max_image_mb`` limits each image, ``max_images_mb`` all of a
    message's images together.  ``logo``: an image file (relative to the workspace or campaign
    file) shown at the top of the HTML part, ``logo_width`` pixels wide at most, with
    ``logo_alt`` as its text (default: the sender's organisation).
    """

    time_zone: str = "America/Toronto"
    embargo_in_subject: bool = True
    immediate_release: bool = True
    immediate_release_fr: str | None = None
    immediate_release_en: str | None = None
    images: Literal["inline", "attachments"] = "inline"
    max_image_mb: Annotated[float, Field(gt=0, le=20)] = 2.0
    max_images_mb: Annotated[float, Field(gt=0, le=50)] = 5.0
    logo: Path | None = None
    logo_alt: str | None = None
    logo_width: Annotated[int, Field(ge=16, le=640)] = 180

    _zone = field_validator("time_zone")(_check_zone)
    _labels = field_validator("immediate_release_fr", "immediate_release_en", "logo_alt")(
        _check_header_text
    )
    _resolve_logo = field_validator("logo", mode="before")(_resolve)


Values = tuple[str, ...]


def _rule_values(value: Any) -> Any:
    """``beat = "Culture"`` is shorthand for ``beat = ["Culture"]``."""
    if isinstance(value, dict):
        return {k: [v] if isinstance(v, str) else v for k, v in value.items()}
    return value


def _check_rules(value: dict[str, Values]) -> dict[str, Values]:
    for key, values in value.items():
        if not key.strip() or find_forbidden(key):
            raise ValueError(f"{key!r} is not a column name")
        if not values or any(not v.strip() or find_forbidden(v) for v in values):
            raise ValueError(f'{key}: give one or more non-empty values, e.g. {key} = "Culture"')
    return value


class AudienceRules(_Frozen):
    """Who is in: ``include`` (every column given must match one of its values) and
    ``exclude`` (matching any one of them leaves a contact out), by column name (``beat``,
    ``rubrique``, ``region``, ``tags``, ``language``, ``list``, ``outlet``, any column)."""

    include: dict[str, Values] = Field(default_factory=dict)
    exclude: dict[str, Values] = Field(default_factory=dict)

    _shorthand = field_validator("include", "exclude", mode="before")(_rule_values)
    _checked = field_validator("include", "exclude")(_check_rules)


class AudienceConfig(AudienceRules):
    """A release's audience: its own rules, saved ``segment`` (s) of the workspace file, and
    the people who received (or did not receive) another release of the same log."""

    segment: tuple[str, ...] = ()
    received: str | None = None
    not_received: str | None = None

    @field_validator("segment", mode="before")
    @classmethod
    def _one_or_more(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @property
    def is_everyone(self) -> bool:
        """Tell whether no rule narrows the audience."""
        return not (
            self.include or self.exclude or self.segment or self.received or self.not_received
        )


class Settings(_Frozen):
    """The keys a workspace file (``distrib.toml``) and a campaign file share: the media lists,
    the sender, the relay and its limits, templates, the delivery log, saved audiences."""

    templates: Path | None = None
    default_language: Language = "fr"
    # The language distrib's own messages and the HTML report use for this workspace, unless
    # ``--lang`` or DISTRIB_LANG says otherwise (None: the machine's locale).
    interface_language: Language | None = None
    sources: tuple[SourceConfig, ...]
    suppression: tuple[Path, ...] = ()
    sender: SenderConfig
    smtp: SMTPConfig = SMTPConfig()
    mailbox: MailboxConfig | None = None
    limits: LimitsConfig = LimitsConfig()
    log: Path | str | None = None  # a file, or a postgresql:// URL
    # Rendering (issue 4): bilingual order, fallback language, outlets sheet, attachments, DKIM.
    bilingual_order: tuple[Language, Language] = ("fr", "en")
    fallback_language: Language | None = None
    outlets: Path | None = None
    max_attachments_mb: Annotated[float, Field(gt=0, le=50)] = 10.0
    dkim: DKIMConfig | None = None
    contacts: ContactsConfig = ContactsConfig()
    # The office's time zone, e.g. "America/Toronto" (an embargo line that names no zone).
    timezone: str | None = None
    # Saved audiences, e.g. [segments.culture] include = { beat = ["Culture", "Arts"] }.
    segments: dict[str, AudienceRules] = Field(default_factory=dict)
    # How the release reads in each message ([press]).
    press: PressConfig = PressConfig()

    _resolve_paths = field_validator("templates", "log", "outlets", mode="before")(_resolve)
    _zone = field_validator("timezone")(_check_zone)

    @model_validator(mode="before")
    @classmethod
    def _relay_defaults(cls, data: Any) -> Any:
        """The preset's documented quotas fill ``[limits]`` per_minute/per_hour/per_day where
        the file sets none; with ``auth = "oauth2"``, ``smtp.username`` defaults to the
        sender's address (the mailbox the tokens are for)."""
        if not isinstance(data, dict) or not isinstance(data.get("smtp"), dict):
            return data
        smtp = data["smtp"]
        sender = data.get("sender")
        if (
            smtp.get("auth") == "oauth2"
            and smtp.get("username") is None
            and isinstance(sender, dict)
            and isinstance(sender.get("address"), str)
        ):
            data = {**data, "smtp": {**smtp, "username": sender["address"].strip()}}
        limits = data.get("limits", {})
        if isinstance(smtp.get("preset"), str) and isinstance(limits, dict):
            from distrib.relay.presets import quotas

            filled = {k: v for k, v in quotas(smtp["preset"]).items() if k not in limits}
            if filled:
                data = {**data, "limits": {**limits, **filled}}
        return data

    @model_validator(mode="before")
    @classmethod
    def _office_zone(cls, data: Any) -> Any:
        """``[press] time_zone`` defaults to the office's ``timezone`` when that is given."""
        if isinstance(data, dict) and isinstance(data.get("timezone"), str):
            press = data.get("press", {})
            if isinstance(press, dict) and "time_zone" not in press:
                try:
                    zone = _check_zone(data["timezone"].strip())
                except ValueError:
                    return data  # reported once, as `timezone`
                data = {**data, "press": {**press, "time_zone": zone}}
        return data

    @model_validator(mode="after")
    def _mailbox_reachable(self) -> Settings:
        box = self.mailbox
        if box is None:
            return self
        if box.url is None and self._preset_imap_host() is None:
            raise ValueError(
                'mailbox: give url = "imaps://USER@HOST/INBOX" (only the Microsoft 365 and'
                " Google Workspace presets know their IMAP host)"
            )
        if self.mailbox_auth == "oauth2" and self.smtp.oauth_provider is None:
            raise ValueError(
                'mailbox: auth = "oauth2" uses the relay\'s sign-in: set [smtp] auth = "oauth2"'
                " with its preset or [smtp.oauth]"
            )
        return self

    def _preset_imap_host(self) -> str | None:
        from distrib.relay.presets import PRESETS

        preset = PRESETS.get(self.smtp.preset or "")
        return preset.imap_host if preset is not None else None

    @property
    def mailbox_auth(self) -> Literal["password", "oauth2"]:
        """How the mailbox is logged into: ``[mailbox] auth``, else the relay's."""
        box = self.mailbox
        if box is not None and box.auth is not None:
            return box.auth
        return self.smtp.auth

    @property
    def mailbox_url(self) -> str | None:
        """The mailbox's address: ``[mailbox] url``, or the preset's IMAP host with the relay's
        user name (else the sender's address) and ``folder``; None without ``[mailbox]``."""
        box = self.mailbox
        if box is None:
            return None
        if box.url is not None:
            return box.url
        from urllib.parse import quote

        user = self.smtp.username or self.sender.address
        host = self._preset_imap_host()
        return f"imaps://{quote(user, safe='@')}@{host}/{quote(box.folder, safe='/')}"

    @field_validator("bilingual_order")
    @classmethod
    def _both_languages(cls, value: tuple[Language, Language]) -> tuple[Language, Language]:
        if set(value) != {"fr", "en"}:
            raise ValueError('must be ["fr", "en"] or ["en", "fr"]')
        return value

    @field_validator("suppression", mode="before")
    @classmethod
    def _resolve_list(cls, value: Any, info: ValidationInfo) -> Any:
        if isinstance(value, str):
            value = [value]
        if isinstance(value, list | tuple):
            return [_resolve(v, info) for v in value]
        return value

    @field_validator("sources", mode="before")
    @classmethod
    def _source_shorthand(cls, value: Any) -> Any:
        # `sources = ["a.csv", "b.xlsx"]` is shorthand for `[[sources]] path = ...`.
        if isinstance(value, list):
            return [{"path": v} if isinstance(v, str) else v for v in value]
        return value

    @field_validator("sources")
    @classmethod
    def _at_least_one(cls, value: tuple[SourceConfig, ...]) -> tuple[SourceConfig, ...]:
        if not value:
            raise ValueError("list at least one contact source")
        return value

    @field_validator("segments")
    @classmethod
    def _segment_names(cls, value: dict[str, AudienceRules]) -> dict[str, AudienceRules]:
        for name in value:
            if not name.strip() or find_forbidden(name):
                raise ValueError(f"{name!r} is not a segment name")
        return value


class Campaign(Settings):
    """Everything needed to send one release, with every path resolved.

    ``name`` keys the release in the delivery log ("already sent" and the lease are per
    release); ``workspace`` is the workspace file it came from (None for a campaign file).
    """

    file: Path
    name: str
    release: Path
    audience: AudienceConfig = AudienceConfig()
    workspace: Path | None = None
    # Not a key of any file: `distrib send --drop-embargo` sets it for one run (an embargo
    # that has passed: the messages go without the notice).
    drop_embargo: bool = False

    _resolve_release = field_validator("release", mode="before")(_resolve)

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not value or find_forbidden(value):
            raise ValueError("must be a non-empty single line")
        return value

    @property
    def folder(self) -> Path:
        """The folder holding the campaign file (a workspace's root folder)."""
        return self.file.parent

    @property
    def log_target(self) -> Path | str:
        """The delivery log, as `distrib.deliverylog.open_log` takes it: a file (default:
        ``distrib-log.sqlite`` beside the campaign file) or a ``postgresql://`` URL."""
        return self.log if self.log is not None else self.folder / "distrib-log.sqlite"

    @property
    def preview_folder(self) -> Path:
        """Where `distrib preview` writes by default: ``preview/`` beside the campaign file, or
        ``preview/<release>/`` in a workspace."""
        base = self.folder / "preview"
        return base / self.release.name if self.workspace is not None else base

    @property
    def target(self) -> str:
        """How a command names this release: its folder in a workspace, else the campaign
        file's name."""
        return display_path(self.release) if self.workspace is not None else self.file.name


def smtp_password(smtp: SMTPConfig, environ: dict[str, str] | None = None) -> str | None:
    """Read the SMTP password from the environment variable the campaign names (None if unset)."""
    env = os.environ if environ is None else environ
    value = env.get(smtp.password_env)
    return value if value else None


def _toml_problem(path: Path, exc: tomllib.TOMLDecodeError) -> Problem:
    text = str(exc)
    match = re.search(r"\(at line (\d+), column (\d+)\)", text)
    row = int(match.group(1)) if match else None
    message = re.sub(r"\s*\(at line \d+, column \d+\)", "", text)
    return Problem(f"not valid TOML: {message}", Location(display_path(path), row), "toml")


def _too_deep(where: Location, what: str) -> Problem:
    message = f"not a {what}: arrays or tables nested hundreds of levels deep"
    return Problem(message, where, "toml")


def read_toml(file: Path, what: str = "campaign file") -> dict[str, Any]:
    """Read a TOML settings file; raise `ConfigError` naming it when it cannot be read."""
    where = Location(display_path(file))
    try:
        raw = file.read_bytes()
    except OSError as exc:
        raise ConfigError([Problem(f"cannot read {what}: {exc.strerror}", where, "io")]) from None
    try:
        return tomllib.loads(raw.decode("utf-8-sig"))
    except UnicodeDecodeError:
        raise ConfigError([Problem(f"{what} must be UTF-8", where, "encoding")]) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([_toml_problem(file, exc)]) from None
    except RecursionError:  # tomllib parses nested arrays and tables recursively
        raise ConfigError([_too_deep(where, what)]) from None


def config_problems(path: Path, exc: ValidationError) -> list[Problem]:
    """Turn pydantic's errors into ``file: key: reason`` problems."""
    problems = []
    for err in exc.errors():
        key = ".".join(str(part) for part in err["loc"]) or "(file)"
        message = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            message = "unknown key (check the spelling; see the README's file reference)"
        elif err["type"] == "missing":
            message = "required key is missing"
        problems.append(Problem(f"{key}: {message}", Location(display_path(path)), "config"))
    return problems


def missing_paths(campaign: Campaign, where: Path | None = None) -> list[Problem]:
    """Every file or folder the campaign names that does not exist (``where``: the file to
    name in the problems, default the campaign's own)."""
    location = Location(display_path(where or campaign.file))
    checks: list[tuple[str, Path | None, bool]] = [
        ("release", campaign.release, True),
        ("templates", campaign.templates, True),
        ("smtp.ca_file", campaign.smtp.ca_file, False),
        ("outlets", campaign.outlets, False),
        ("dkim.key_file", campaign.dkim.key_file if campaign.dkim else None, False),
        ("press.logo", campaign.press.logo, False),
    ]
    checks += [(f"sources.{i}.path", s.path, False) for i, s in enumerate(campaign.sources)]
    checks += [(f"suppression.{i}", p, False) for i, p in enumerate(campaign.suppression)]
    problems = []
    for key, path, is_dir in checks:
        if path is None:
            continue
        ok = path.is_dir() if is_dir else path.is_file()
        if not ok:
            kind = "folder" if is_dir else "file"
            problems.append(
                Problem(f"{key}: {kind} not found: {display_path(path)}", location, "path")
            )
    return problems


def unknown_segments(campaign: Campaign, where: Path | None = None) -> list[Problem]:
    """The audience's segments that the settings do not define."""
    location = Location(display_path(where or campaign.file))
    known = ", ".join(sorted(campaign.segments)) or "none is defined: add [segments.NAME]"
    return [
        Problem(f"audience.segment: no segment {name!r} (segments: {known})", location, "config")
        for name in campaign.audience.segment
        if name not in campaign.segments
    ]


#: Keys the loaders set: never read from a file.
_SET_BY_LOADER = ("file", "workspace", "drop_embargo")


def load_campaign(path: str | Path) -> Campaign:
    """Read and validate a campaign file; raise `ConfigError` listing every problem found."""
    file = Path(path).expanduser().resolve()
    where = Location(display_path(file))
    data = read_toml(file)
    for key in _SET_BY_LOADER:
        if key in data:
            raise ConfigError([Problem(f"{key}: unknown key", where, "config")])
    data = {"name": file.parent.name or file.stem, **data, "file": file}
    try:
        campaign = Campaign.model_validate(data, context={"base": file.parent})
    except ValidationError as exc:
        raise ConfigError(config_problems(file, exc)) from None
    except RecursionError:
        raise ConfigError([_too_deep(where, "campaign file")]) from None
    missing = missing_paths(campaign) + unknown_segments(campaign)
    if missing:
        raise ConfigError(missing)
    return campaign
