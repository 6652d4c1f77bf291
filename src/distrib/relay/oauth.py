"""OAuth2 access tokens for the relay and the mailbox, from each provider's own library.

A `TokenProvider` answers one question, ``access_token()``: a token valid now, refreshed from
the cached sign-in when the last one expired (or when ``force_refresh`` says the server refused
it).  Two families:

**Microsoft 365** (`MicrosoftTokens`, with MSAL):

* a person at a terminal: the **device-code flow** of a *public client* app registration.
  `login` asks Microsoft for a code, hands the URL and the code to ``on_prompt`` (the CLI shows
  them; this module never prints), and waits while the officer signs in on any browser.  The
  MSAL token cache (refresh token included) is then kept in a `TokenStore`, and
  ``acquire_token_silent`` refreshes from it.  Delegated scopes: ``SMTP.Send`` (and
  ``IMAP.AccessAsUser.All`` to read the mailbox).
* a service account: the **client-credentials** flow of a *confidential client* (the client
  secret from an environment variable), scope ``https://outlook.office365.com/.default``; the
  app's service principal must be allowed to send as the mailbox in Exchange Online.  Nothing is
  kept on disk: a new token is asked for when MSAL's in-memory one expires.

**Google Workspace** (`GoogleTokens`, with google-auth and google-auth-oauthlib):

* a person: the **installed-app flow with a loopback redirect** (Google refuses the mail scope
  to its device flow): a one-shot HTTP listener on 127.0.0.1 receives the redirect, the code is
  exchanged with PKCE, and the authorised-user credentials (refresh token included) are kept in
  the `TokenStore`; ``google.oauth2.credentials.Credentials.refresh`` renews them.
* a service account with **domain-wide delegation** (the documented route for a server sending
  as a Workspace user): its JSON key file, ``subject`` = the mailbox, scope
  ``https://mail.google.com/``; nothing is kept on disk.

``verify`` (True, or a CA bundle's path) is handed to the HTTP client of both libraries, for an
organisation whose TLS is inspected by a proxy, and for the tests' local token service.
"""

from __future__ import annotations

import json
import os
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import parse_qs, urlparse

from distrib.relay.cache import FileTokenStore, TokenStore, account_key
from distrib.relay.errors import LoginRequired, TokenError

if TYPE_CHECKING:
    import requests

__all__ = [
    "GOOGLE_MAIL_SCOPE",
    "MICROSOFT_IMAP_SCOPE",
    "MICROSOFT_SERVICE_SCOPE",
    "MICROSOFT_SMTP_SCOPE",
    "GoogleAccount",
    "GoogleTokens",
    "MicrosoftAccount",
    "MicrosoftTokens",
    "SignInPrompt",
    "TokenProvider",
    "login",
    "logout",
    "token_provider",
]

MICROSOFT_SMTP_SCOPE = "https://outlook.office.com/SMTP.Send"
MICROSOFT_IMAP_SCOPE = "https://outlook.office.com/IMAP.AccessAsUser.All"
MICROSOFT_SERVICE_SCOPE = "https://outlook.office365.com/.default"
MICROSOFT_AUTHORITY_HOST = "https://login.microsoftonline.com"
GOOGLE_MAIL_SCOPE = "https://mail.google.com/"
GOOGLE_AUTH_URI = "https://accounts.google.com/o/oauth2/auth"
GOOGLE_TOKEN_URI = "https://oauth2.googleapis.com/token"  # noqa: S105  (an address)
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")


def _clean(text: object, limit: int = 300) -> str:
    flat = " ".join(_CONTROL.sub(" ", str(text)).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


@dataclass(frozen=True, slots=True)
class SignInPrompt:
    """What the officer must do to sign in: open ``url`` (and type ``code``, if any)."""

    url: str
    code: str | None
    message: str
    expires_in: int | None = None


OnPrompt = Callable[[SignInPrompt], None]


class TokenProvider(Protocol):
    """Access tokens for one account (``user``, the mailbox it sends as)."""

    @property
    def user(self) -> str:
        """The address the tokens are for (the SASL user name)."""

    @property
    def cached_in(self) -> str:
        """Where the sign-in is kept, for people ("" when nothing is kept)."""

    def access_token(self, *, force_refresh: bool = False) -> str:
        """A valid access token; refreshed when expired, or always with ``force_refresh``.

        Raises `LoginRequired` when nobody signed in (or the sign-in was revoked), `TokenError`
        when the token service cannot be reached or refuses.
        """

    def login(self, on_prompt: OnPrompt) -> None:
        """Sign in (interactively where the flow needs it) and keep what must be kept."""

    def logout(self) -> bool:
        """Forget the kept sign-in; return whether there was one."""


def http_session(verify: bool | str, timeout: float) -> requests.Session:
    """A requests session for the token services: ``verify`` wins over the environment.

    requests lets ``REQUESTS_CA_BUNDLE``/``CURL_CA_BUNDLE`` replace a session's ``verify``; a
    CA bundle named in distrib's settings must not be silently swapped for another, so an
    explicit one is applied to each request (proxies from the environment still apply).
    """
    import requests

    class _Session(requests.Session):
        def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> Any:
            kwargs.setdefault("timeout", timeout)
            if verify is not True:
                kwargs.setdefault("verify", verify)
            return super().request(method, url, *args, **kwargs)

    session = _Session()
    session.verify = verify
    return session


# -- Microsoft 365 ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MicrosoftAccount:
    """A Microsoft Entra app registration and the mailbox it sends as.

    ``client_secret_env`` set: a confidential client (client credentials, a service account);
    otherwise a public client signed in by a person with the device-code flow.
    """

    tenant: str
    client_id: str
    user: str
    client_secret_env: str | None = None
    authority_host: str = MICROSOFT_AUTHORITY_HOST
    mailbox: bool = False  # also ask for IMAP access (bounces, opt-outs, replies)

    @property
    def authority(self) -> str:
        """The authority URL: the host and the tenant."""
        return f"{self.authority_host.rstrip('/')}/{self.tenant}"

    @property
    def is_service(self) -> bool:
        """Client credentials (no person signs in)."""
        return self.client_secret_env is not None

    @property
    def scopes(self) -> list[str]:
        """The scopes asked for."""
        if self.is_service:
            return [MICROSOFT_SERVICE_SCOPE]
        return [MICROSOFT_SMTP_SCOPE] + ([MICROSOFT_IMAP_SCOPE] if self.mailbox else [])

    @property
    def key(self) -> str:
        """The token store's key for this sign-in."""
        return account_key(
            "microsoft365", self.authority, self.client_id, self.user.lower(),
            "service" if self.is_service else "delegated",
        )  # fmt: skip


def _msal_error(result: dict[str, Any]) -> str:
    error = _clean(result.get("error", "error"), 80)
    description = _clean(result.get("error_description", ""), 300)
    return f"{error}: {description}" if description else error


class MicrosoftTokens:
    """Access tokens for Microsoft 365 from MSAL, its cache kept in a `TokenStore`."""

    def __init__(
        self,
        account: MicrosoftAccount,
        store: TokenStore | None = None,
        *,
        verify: bool | str = True,
        timeout: float = 30.0,
    ) -> None:
        import msal

        self.account = account
        self.store = store if store is not None else FileTokenStore()
        self._verify = verify
        self._timeout = timeout
        self._cache = msal.SerializableTokenCache()
        self._loaded = False
        self._app: Any = None
        self._lock = threading.Lock()

    @property
    def user(self) -> str:
        """The mailbox."""
        return self.account.user

    @property
    def cached_in(self) -> str:
        """The store's description (nothing is kept for a service account)."""
        return "" if self.account.is_service else self.store.describe(self.account.key)

    def _application(self) -> Any:
        import msal
        import requests

        if self._app is not None:
            return self._app
        self._load_cache()
        options: dict[str, Any] = {
            "authority": self.account.authority,
            "instance_discovery": False,
            "http_client": http_session(self._verify, self._timeout),
        }
        try:
            if self.account.is_service:
                secret = _secret(self.account.client_secret_env)
                self._app = msal.ConfidentialClientApplication(
                    self.account.client_id, client_credential=secret, **options
                )
            else:
                self._app = msal.PublicClientApplication(
                    self.account.client_id, token_cache=self._cache, **options
                )
        except requests.RequestException as exc:
            raise TokenError(
                f"cannot reach Microsoft's sign-in service at {self.account.authority_host}:"
                f" {type(exc).__name__}"
            ) from None
        except ValueError as exc:
            raise TokenError(f"tenant {self.account.tenant!r}: {_clean(exc)}") from None
        return self._app

    def _load_cache(self) -> None:
        if self.account.is_service or self._loaded:
            return
        kept = self.store.load(self.account.key)
        if kept is not None:
            try:
                self._cache.deserialize(json.loads(kept)["msal"])
            except (ValueError, KeyError, TypeError):
                raise TokenError(
                    f"{self.cached_in}: the kept sign-in is damaged; run"
                    " `distrib relay logout`, then `distrib relay login`"
                ) from None
        self._loaded = True

    def _signed_in(self) -> bool:
        """The kept cache has an account for the user (read without asking the network)."""
        import msal

        self._load_cache()
        accounts = self._cache.search(msal.TokenCache.CredentialType.ACCOUNT)
        wanted = self.account.user.lower()
        return any(str(a.get("username", "")).lower() == wanted for a in accounts)

    def _keep(self) -> None:
        if not self.account.is_service and self._cache.has_state_changed:
            document = {"version": 1, "provider": "microsoft365", "user": self.account.user,
                        "msal": self._cache.serialize()}  # fmt: skip
            self.store.save(self.account.key, json.dumps(document))
            self._cache.has_state_changed = False

    def access_token(self, *, force_refresh: bool = False) -> str:
        """A token from MSAL's cache, refreshed by MSAL when it expires (5 minutes before)."""
        import requests

        with self._lock:
            if not self.account.is_service and not self._signed_in():
                raise LoginRequired(
                    f"nobody is signed in to Microsoft 365 as {self.account.user}:"
                    " run `distrib relay login`"
                )
            app = self._application()
            try:
                if self.account.is_service:
                    result = app.acquire_token_for_client(self.account.scopes)
                else:
                    accounts = app.get_accounts(username=self.account.user)
                    if not accounts:
                        raise LoginRequired(
                            f"nobody is signed in to Microsoft 365 as {self.account.user}:"
                            " run `distrib relay login`"
                        )
                    result = app.acquire_token_silent_with_error(
                        self.account.scopes, account=accounts[0], force_refresh=force_refresh
                    )
            except requests.RequestException as exc:
                raise TokenError(
                    f"cannot reach Microsoft's sign-in service: {type(exc).__name__}"
                ) from None
            self._keep()
        if result is None:
            raise LoginRequired(
                f"the sign-in of {self.account.user} cannot be renewed: run `distrib relay login`"
            )
        if "access_token" not in result:
            error = result.get("error")
            if error in ("invalid_grant", "interaction_required", "login_required"):
                raise LoginRequired(
                    f"the sign-in of {self.account.user} was revoked or has expired"
                    f" ({_msal_error(result)}): run `distrib relay login`"
                )
            raise TokenError(f"Microsoft refused a token for {self.user}: {_msal_error(result)}")
        return str(result["access_token"])

    def login(self, on_prompt: OnPrompt) -> None:
        """Device-code sign-in (a person), or a first token (a service account)."""
        import requests

        if self.account.is_service:
            self.access_token()
            return
        with self._lock:
            app = self._application()
            try:
                flow = app.initiate_device_flow(scopes=self.account.scopes)
                if "user_code" not in flow:
                    raise TokenError(f"Microsoft refused to start a sign-in: {_msal_error(flow)}")
                on_prompt(
                    SignInPrompt(
                        url=_clean(flow.get("verification_uri", ""), 200),
                        code=_clean(flow["user_code"], 40),
                        message=_clean(flow.get("message", ""), 400),
                        expires_in=int(flow.get("expires_in", 0)) or None,
                    )
                )
                result = app.acquire_token_by_device_flow(flow)
            except requests.RequestException as exc:
                raise TokenError(
                    f"cannot reach Microsoft's sign-in service: {type(exc).__name__}"
                ) from None
            if "access_token" not in result:
                raise TokenError(f"the sign-in did not complete: {_msal_error(result)}")
            claims = result.get("id_token_claims") or {}
            signed_in = str(claims.get("preferred_username") or "")
            if signed_in and signed_in.lower() != self.account.user.lower():
                for found in app.get_accounts(username=signed_in):
                    app.remove_account(found)
                raise TokenError(
                    f"you signed in as {_clean(signed_in, 320)}, but the relay sends as"
                    f" {self.account.user}: sign in again with that account"
                )
            self._keep()

    def logout(self) -> bool:
        """Forget the kept MSAL cache of this account."""
        import msal

        with self._lock:
            self._app = None
            self._loaded = False
            self._cache = msal.SerializableTokenCache()
        if self.account.is_service:
            return False
        return self.store.delete(self.account.key)


def _secret(name: str | None) -> str:
    value = os.environ.get(name or "")
    if not value:
        raise TokenError(f"the client secret is not set: put it in the environment variable {name}")
    return value


# -- Google Workspace ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class GoogleAccount:
    """A Google Cloud OAuth client (or a service account key) and the mailbox it sends as.

    ``client_secrets``: the "Desktop app" client's JSON file, downloaded from the Google Cloud
    console (a person signs in).  ``service_account_key``: a service account's JSON key with
    domain-wide delegation for ``https://mail.google.com/`` (sends as ``user``).
    """

    user: str
    client_secrets: Path | None = None
    service_account_key: Path | None = None

    @property
    def is_service(self) -> bool:
        """A service account (no person signs in)."""
        return self.service_account_key is not None

    def client_config(self) -> dict[str, Any]:
        """The ``installed`` section of the client secrets file, checked."""
        if self.client_secrets is None:
            raise TokenError(
                "Google Workspace needs a client secrets file or a service account key"
            )
        try:
            data = json.loads(self.client_secrets.read_text(encoding="utf-8"))
        except OSError as exc:
            raise TokenError(f"{self.client_secrets}: cannot read: {exc.strerror}") from None
        except ValueError:
            raise TokenError(f"{self.client_secrets}: not a JSON client secrets file") from None
        section = data.get("installed") if isinstance(data, dict) else None
        if not isinstance(section, dict) or not section.get("client_id"):
            raise TokenError(
                f"{self.client_secrets}: not the JSON of a Desktop app OAuth client"
                " (no 'installed' section with a client_id)"
            )
        section.setdefault("auth_uri", GOOGLE_AUTH_URI)
        section.setdefault("token_uri", GOOGLE_TOKEN_URI)
        return {"installed": section}

    @property
    def key(self) -> str:
        """The token store's key for this sign-in."""
        if self.is_service:
            return account_key("google-workspace", "service", str(self.service_account_key),
                               self.user.lower())  # fmt: skip
        client_id = str(self.client_config()["installed"]["client_id"])
        return account_key("google-workspace", client_id, self.user.lower())


class _Redirect(BaseHTTPRequestHandler):
    """Receives the one redirect of the installed-app flow on 127.0.0.1."""

    server: _RedirectServer

    def do_GET(self) -> None:
        query = parse_qs(urlparse(self.path).query)
        if "code" in query or "error" in query:
            self.server.query = {k: v[0] for k, v in query.items() if v}
            body = b"<!doctype html><title>distrib</title><p>Signed in. You can close this tab."
            self.send_response(200)
        else:
            body = b"<!doctype html><title>distrib</title><p>Waiting for the sign-in."
            self.send_response(404)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        """The library never prints (http.server would write every request to stderr)."""


class _RedirectServer(HTTPServer):
    query: dict[str, str] | None = None
    timed_out: bool = False

    def handle_timeout(self) -> None:
        """No request came within ``timeout`` seconds."""
        self.timed_out = True


@dataclass
class GoogleTokens:
    """Access tokens for Google Workspace from google-auth, kept in a `TokenStore`."""

    account: GoogleAccount
    store: TokenStore = field(default_factory=FileTokenStore)
    verify: bool | str = True
    timeout: float = 30.0
    sign_in_timeout: float = 600.0
    _credentials: Any = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def user(self) -> str:
        """The mailbox."""
        return self.account.user

    @property
    def cached_in(self) -> str:
        """The store's description (nothing is kept for a service account)."""
        return "" if self.account.is_service else self.store.describe(self.account.key)

    def _session(self) -> requests.Session:
        return http_session(self.verify, self.timeout)

    def _load(self) -> Any:
        if self._credentials is not None:
            return self._credentials
        if self.account.is_service:
            from google.oauth2 import service_account

            assert self.account.service_account_key is not None
            try:
                info = json.loads(self.account.service_account_key.read_text(encoding="utf-8"))
                self._credentials = service_account.Credentials.from_service_account_info(  # type: ignore[no-untyped-call]
                    info, scopes=[GOOGLE_MAIL_SCOPE], subject=self.account.user
                )
            except OSError as exc:
                raise TokenError(
                    f"{self.account.service_account_key}: cannot read: {exc.strerror}"
                ) from None
            except ValueError:
                raise TokenError(
                    f"{self.account.service_account_key}: not a service account JSON key"
                ) from None
            return self._credentials
        from google.oauth2.credentials import Credentials

        kept = self.store.load(self.account.key)
        if kept is None:
            raise LoginRequired(
                f"nobody is signed in to Google Workspace as {self.account.user}:"
                " run `distrib relay login`"
            )
        # The endpoint and the client come from the client secrets file (the organisation's
        # choice), never from the cache; the cache gives the tokens and the expiry.
        client = self.account.client_config()["installed"]
        try:
            info = json.loads(kept)["google"]
            expiry = info.get("expiry")
            self._credentials = Credentials(  # type: ignore[no-untyped-call]
                token=info.get("token"),
                refresh_token=str(info["refresh_token"]),
                token_uri=str(client["token_uri"]),
                client_id=str(client["client_id"]),
                client_secret=client.get("client_secret"),
                scopes=[GOOGLE_MAIL_SCOPE],
                # google-auth writes and compares naive UTC datetimes
                expiry=datetime.strptime(expiry[:19], "%Y-%m-%dT%H:%M:%S") if expiry else None,
            )
        except (ValueError, KeyError, TypeError):
            raise TokenError(
                f"{self.cached_in}: the kept sign-in is damaged; run `distrib relay logout`,"
                " then `distrib relay login`"
            ) from None
        return self._credentials

    def _keep(self, credentials: Any) -> None:
        if self.account.is_service:
            return
        document = {"version": 1, "provider": "google-workspace", "user": self.account.user,
                    "google": json.loads(credentials.to_json())}  # fmt: skip
        self.store.save(self.account.key, json.dumps(document))

    def access_token(self, *, force_refresh: bool = False) -> str:
        """The current token, refreshed when google-auth says it expired (or when forced)."""
        from google.auth.exceptions import RefreshError, TransportError
        from google.auth.transport.requests import Request

        with self._lock:
            credentials = self._load()
            if force_refresh or not credentials.valid:
                try:
                    credentials.refresh(Request(self._session()))
                except RefreshError as exc:
                    if self.account.is_service:
                        raise TokenError(
                            f"Google refused a token for {self.user}: {_google_error(exc)}"
                        ) from None
                    raise LoginRequired(
                        f"the sign-in of {self.user} was revoked or has expired"
                        f" ({_google_error(exc)}): run `distrib relay login`"
                    ) from None
                except TransportError as exc:
                    raise TokenError(
                        f"cannot reach Google's token service: {type(exc).__name__}"
                    ) from None
                self._keep(credentials)
            return str(credentials.token)

    def login(self, on_prompt: OnPrompt) -> None:
        """The installed-app flow (a person), or a first token (a service account)."""
        if self.account.is_service:
            self.access_token(force_refresh=True)
            return
        import requests
        from google_auth_oauthlib.flow import Flow
        from oauthlib.oauth2.rfc6749.errors import OAuth2Error

        flow = Flow.from_client_config(
            self.account.client_config(),
            scopes=[GOOGLE_MAIL_SCOPE],
            autogenerate_code_verifier=True,
        )
        server = _RedirectServer(("127.0.0.1", 0), _Redirect)
        try:
            port = server.server_address[1]
            flow.redirect_uri = f"http://127.0.0.1:{port}/"
            url, state = flow.authorization_url(prompt="consent", login_hint=self.account.user)
            on_prompt(SignInPrompt(
                url=url, code=None,
                message=f"Open this address in a browser on this computer and sign in as"
                        f" {self.account.user}: {url}",
                expires_in=int(self.sign_in_timeout),
            ))  # fmt: skip
            server.timeout = self.sign_in_timeout
            while server.query is None:  # a browser may ask for /favicon.ico first
                server.handle_request()
                if server.timed_out:
                    raise TokenError("nobody completed the sign-in in time; try again")
            query = server.query
        finally:
            server.server_close()
        if "error" in query:
            raise TokenError(f"the sign-in was refused: {_clean(query['error'], 80)}")
        if query.get("state") != state:
            raise TokenError("the sign-in answer does not match this sign-in (state); try again")
        try:
            flow.fetch_token(code=query["code"], verify=self.verify, timeout=self.timeout)
        except OAuth2Error as exc:
            raise TokenError(f"Google refused the sign-in: {_clean(exc.error, 80)}") from None
        except requests.RequestException as exc:
            raise TokenError(f"cannot reach Google's token service: {type(exc).__name__}") from None
        with self._lock:
            self._credentials = flow.credentials
            self._keep(self._credentials)

    def logout(self) -> bool:
        """Forget the kept credentials."""
        with self._lock:
            self._credentials = None
        if self.account.is_service:
            return False
        return self.store.delete(self.account.key)


def _google_error(exc: Exception) -> str:
    """The error code of a RefreshError ("invalid_grant: …"), never the request it carried."""
    args = exc.args
    return _clean(args[0], 200) if args else type(exc).__name__


# -- one entry point -------------------------------------------------------------------------


def token_provider(
    account: MicrosoftAccount | GoogleAccount,
    store: TokenStore | None = None,
    *,
    verify: bool | str = True,
) -> TokenProvider:
    """The provider for ``account``'s family."""
    if isinstance(account, MicrosoftAccount):
        return MicrosoftTokens(account, store, verify=verify)
    return GoogleTokens(account, store if store is not None else FileTokenStore(), verify=verify)


def login(
    account: MicrosoftAccount | GoogleAccount,
    on_prompt: OnPrompt,
    store: TokenStore | None = None,
    *,
    verify: bool | str = True,
) -> TokenProvider:
    """Sign in and keep the sign-in; return the provider, ready to give tokens."""
    provider = token_provider(account, store, verify=verify)
    provider.login(on_prompt)
    return provider


def logout(account: MicrosoftAccount | GoogleAccount, store: TokenStore | None = None) -> bool:
    """Forget ``account``'s kept sign-in; return whether there was one."""
    store = store if store is not None else FileTokenStore()
    if account.is_service:
        return False
    return store.delete(account.key)
