"""A local OAuth2 token service for the tests: HTTPS on 127.0.0.1 (a trustme certificate), in a
thread, speaking just enough of Microsoft Entra's and Google's endpoints for MSAL and
google-auth to work against it unchanged.

Microsoft (authority ``{base}/{tenant}``, MSAL with ``instance_discovery=False``; MSAL accepts
only https authorities, hence TLS):

* ``GET  /{tenant}/v2.0/.well-known/openid-configuration``
* ``POST /{tenant}/oauth2/v2.0/devicecode`` -> a device code; the sign-in is approved by
  `approve` (or at once with ``auto_approve``); until then the token endpoint answers
  ``authorization_pending``
* ``POST /{tenant}/oauth2/v2.0/token``: ``device_code``, ``refresh_token`` and
  ``client_credentials`` grants

Google (a client secrets file with ``auth_uri``/``token_uri`` here):

* ``GET  /google/auth`` -> 302 to the ``redirect_uri`` with a code (the test is the browser)
* ``POST /google/token``: ``authorization_code`` (PKCE checked), ``refresh_token`` and the
  service account's ``jwt-bearer`` grant (the assertion's RS256 signature checked with the key)

Every access token it issues is remembered with its user, so servers in the tests (the XOAUTH2
SMTP server, Dovecot's passdb) can check tokens: `user_of`.  ``expires_in`` sets the lifetime
of the tokens issued (60 s is "already expired" for both libraries, which refresh 3-5 minutes
ahead), so refreshing is tested without waiting.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import ssl
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlparse

import jwt

from smtp_server import TLSFiles

DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


@dataclass
class TokenState:
    """What the service knows and what it was asked."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    expires_in: int = 3600
    auto_approve: bool = False
    client_secret: str = "entra-client-secret-0042"
    google_client_secret: str = "google-client-secret-0042"
    signed_in_as: str = "presse@agapc.example"
    service_keys: dict[str, Any] = field(default_factory=dict)  # client_email -> public key
    devices: dict[str, dict[str, Any]] = field(default_factory=dict)
    codes: dict[str, dict[str, Any]] = field(default_factory=dict)
    refresh: dict[str, dict[str, Any]] = field(default_factory=dict)  # refresh token -> grant
    access: dict[str, str] = field(default_factory=dict)  # access token -> user
    grants: list[str] = field(default_factory=list)  # every grant_type asked for, in order
    requests: list[tuple[str, str]] = field(default_factory=list)  # (method, path)
    bodies: list[str] = field(default_factory=list)  # every request body, to look for leaks


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def server_user(self, token: str) -> str | None:
        with self.server.state.lock:
            return self.server.state.access.get(token)

    def _json(self, status: int, payload: dict[str, Any]) -> None:
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        state = self.server.state
        url = urlparse(self.path)
        with state.lock:
            state.requests.append(("GET", url.path))
        parts = url.path.strip("/").split("/")
        if len(parts) == 4 and parts[1:] == ["v2.0", ".well-known", "openid-configuration"]:
            tenant = parts[0]
            base = f"{self.server.base}/{tenant}"
            self._json(200, {
                "issuer": f"{base}/v2.0",
                "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
                "token_endpoint": f"{base}/oauth2/v2.0/token",
                "device_authorization_endpoint": f"{base}/oauth2/v2.0/devicecode",
                "tenant_region_scope": "NA",
            })  # fmt: skip
            return
        if url.path == "/google/auth":
            query = {k: v[0] for k, v in parse_qs(url.query).items()}
            code = "gcode-" + secrets.token_hex(8)
            with state.lock:
                state.codes[code] = query
            target = (
                query["redirect_uri"]
                + "?"
                + urlencode(
                    {"code": code, "state": query.get("state", ""), "scope": query.get("scope", "")}
                )
            )
            self.send_response(302)
            self.send_header("Location", target)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self._json(404, {"error": "not_found"})

    def do_POST(self) -> None:
        state = self.server.state
        url = urlparse(self.path)
        length = int(self.headers.get("Content-Length", "0"))
        raw = self.rfile.read(length).decode()
        form = {k: v[0] for k, v in parse_qs(raw).items()}
        with state.lock:
            state.requests.append(("POST", url.path))
            state.bodies.append(raw)
        if url.path == "/introspect":  # RFC 7662, for Dovecot's oauth2 passdb
            user = self.server_user(form.get("token", ""))
            self._json(200, {"active": True, "username": user} if user else {"active": False})
            return
        if url.path.endswith("/oauth2/v2.0/devicecode"):
            code = "dev-" + secrets.token_hex(8)
            user_code = "AGPC" + secrets.token_hex(2).upper()
            with state.lock:
                state.devices[code] = {
                    "approved": state.auto_approve,
                    "scope": form["scope"],
                    "client_id": form["client_id"],
                    "user_code": user_code,
                }
            self._json(200, {
                "device_code": code, "user_code": user_code,
                "verification_uri": "https://microsoft.com/devicelogin",
                "expires_in": 900, "interval": 1,
                "message": f"To sign in, use a web browser to open the page"
                           f" https://microsoft.com/devicelogin and enter the code {user_code}"
                           " to authenticate.",
            })  # fmt: skip
            return
        if url.path.endswith("/oauth2/v2.0/token"):
            self._microsoft_token(form)
            return
        if url.path == "/google/token":
            self._google_token(form)
            return
        self._json(404, {"error": "not_found"})

    # -- Microsoft --------------------------------------------------------------------------

    def _issue_microsoft(self, user: str, scope: str, client_id: str) -> dict[str, Any]:
        state = self.server.state
        access = "eyJ0.at-" + secrets.token_hex(16)
        refresh = "rt-" + secrets.token_hex(16)
        with state.lock:
            state.access[access] = user
            state.refresh[refresh] = {"user": user, "scope": scope, "client_id": client_id}
        uid, utid = "uid-" + hashlib.sha256(user.encode()).hexdigest()[:8], "tenant-utid"
        header = _b64url(b'{"alg":"none","typ":"JWT"}')
        claims = _b64url(json.dumps({
            "aud": client_id, "iss": f"{self.server.base}/tenant/v2.0", "sub": uid,
            "oid": uid, "tid": utid, "preferred_username": user,
            "name": user.split("@", maxsplit=1)[0],
        }).encode())  # fmt: skip
        return {
            "token_type": "Bearer",
            "scope": " ".join(s for s in scope.split() if s.startswith("https://")),
            "expires_in": state.expires_in, "ext_expires_in": state.expires_in,
            "access_token": access, "refresh_token": refresh,
            "id_token": f"{header}.{claims}.",
            "client_info": _b64url(json.dumps({"uid": uid, "utid": utid}).encode()),
        }  # fmt: skip

    def _microsoft_token(self, form: dict[str, str]) -> None:
        state = self.server.state
        grant = form.get("grant_type", "")
        with state.lock:
            state.grants.append(grant)
        if grant == DEVICE_GRANT:
            with state.lock:
                device = state.devices.get(form.get("device_code", ""))
            if device is None:
                self._json(400, {"error": "expired_token", "error_description": "unknown code"})
            elif not device["approved"]:
                self._json(400, {"error": "authorization_pending",
                                 "error_description": "AADSTS70016: pending"})  # fmt: skip
            else:
                with state.lock:
                    state.devices.pop(form["device_code"])
                self._json(200, self._issue_microsoft(state.signed_in_as, device["scope"],
                                                      device["client_id"]))  # fmt: skip
        elif grant == "refresh_token":
            with state.lock:
                known = state.refresh.pop(form.get("refresh_token", ""), None)
            if known is None:
                self._json(400, {"error": "invalid_grant",
                                 "error_description": "AADSTS70000: the refresh token was"
                                 " revoked"})  # fmt: skip
            else:
                self._json(200, self._issue_microsoft(known["user"], known["scope"],
                                                      known["client_id"]))  # fmt: skip
        elif grant == "client_credentials":
            if form.get("client_secret") != state.client_secret:
                self._json(401, {"error": "invalid_client",
                                 "error_description": "AADSTS7000215: Invalid client secret"
                                 " provided."})  # fmt: skip
                return
            access = "eyJ0.app-" + secrets.token_hex(16)
            with state.lock:
                state.access[access] = "app:" + form.get("client_id", "")
            self._json(200, {"token_type": "Bearer", "expires_in": state.expires_in,
                             "ext_expires_in": state.expires_in,
                             "access_token": access})  # fmt: skip
        else:
            self._json(400, {"error": "unsupported_grant_type"})

    # -- Google ------------------------------------------------------------------------------

    def _issue_google(self, user: str, *, refresh: bool = True) -> dict[str, Any]:
        state = self.server.state
        access = "ya29.at-" + secrets.token_hex(16)
        payload: dict[str, Any] = {"access_token": access, "token_type": "Bearer",
                                   "expires_in": state.expires_in,
                                   "scope": "https://mail.google.com/"}  # fmt: skip
        with state.lock:
            state.access[access] = user
            if refresh:
                token = "1//rt-" + secrets.token_hex(16)
                state.refresh[token] = {"user": user}
                payload["refresh_token"] = token
        return payload

    def _client_secret(self, form: dict[str, str]) -> str | None:
        """client_secret_post or client_secret_basic (RFC 6749 2.3.1)."""
        header = self.headers.get("Authorization", "")
        if header.startswith("Basic "):
            _, _, secret = base64.b64decode(header[6:]).decode().partition(":")
            return secret
        return form.get("client_secret")

    def _google_token(self, form: dict[str, str]) -> None:
        state = self.server.state
        grant = form.get("grant_type", "")
        with state.lock:
            state.grants.append(grant)
        if grant == "authorization_code":
            with state.lock:
                asked = state.codes.pop(form.get("code", ""), None)
            verifier = form.get("code_verifier", "")
            challenge = _b64url(hashlib.sha256(verifier.encode()).digest())
            if asked is None or asked.get("code_challenge") != challenge:
                self._json(400, {"error": "invalid_grant"})
            elif self._client_secret(form) != state.google_client_secret:
                self._json(401, {"error": "invalid_client"})
            else:
                self._json(200, self._issue_google(state.signed_in_as))
        elif grant == "refresh_token":
            with state.lock:
                known = state.refresh.get(form.get("refresh_token", ""))
            if known is None:
                self._json(
                    400,
                    {
                        "error": "invalid_grant",
                        "error_description": "Token has been expired or revoked.",
                    },
                )
            else:
                payload = self._issue_google(known["user"], refresh=False)
                self._json(200, payload)
        elif grant == JWT_GRANT:
            assertion = form.get("assertion", "")
            unverified = jwt.decode(assertion, options={"verify_signature": False})
            key = state.service_keys.get(unverified.get("iss", ""))
            try:
                # google-auth always names Google's endpoint as the audience
                claims = jwt.decode(assertion, key, algorithms=["RS256"],
                                    audience="https://oauth2.googleapis.com/token")  # fmt: skip
            except (jwt.PyJWTError, TypeError) as exc:
                self._json(
                    400,
                    {
                        "error": "invalid_grant",
                        "error_description": f"bad assertion: {type(exc).__name__}",
                    },
                )
                return
            if claims.get("scope") != "https://mail.google.com/" or not claims.get("sub"):
                self._json(400, {"error": "unauthorized_client"})
                return
            self._json(200, self._issue_google(claims["sub"], refresh=False))
        else:
            self._json(400, {"error": "unsupported_grant_type"})


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    state: TokenState
    base: str


class TokenServer:
    """The service, started in a thread; ``base`` is ``https://127.0.0.1:PORT``."""

    def __init__(self, tls_files: TLSFiles, **options: Any) -> None:
        self.tls_files = tls_files
        self.state = TokenState(**options)
        self._server = _Server(("127.0.0.1", 0), _Handler)
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        tls_files.ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
        self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
        self._server.state = self.state
        self.port = self._server.server_address[1]
        self.base = f"https://127.0.0.1:{self.port}"
        self._server.base = self.base
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._stopped = False

    def start(self) -> TokenServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

    @property
    def ca_file(self) -> str:
        return str(self.tls_files.ca_file)

    def authority_host(self) -> str:
        return self.base

    def approve(self) -> None:
        """The person at the browser signs in: every pending device code is approved."""
        with self.state.lock:
            for device in self.state.devices.values():
                device["approved"] = True

    def revoke_all(self) -> None:
        """Every refresh token is revoked (the officer changed their password)."""
        with self.state.lock:
            self.state.refresh.clear()

    def user_of(self, token: str) -> str | None:
        """The user an access token was issued to, or None for an unknown token."""
        with self.state.lock:
            return self.state.access.get(token)

    def grants(self) -> list[str]:
        with self.state.lock:
            return list(self.state.grants)

    def google_client_secrets(self, client_id: str = "1234-desktop.apps.test") -> dict[str, Any]:
        return {"installed": {
            "client_id": client_id, "client_secret": self.state.google_client_secret,
            "auth_uri": f"{self.base}/google/auth", "token_uri": f"{self.base}/google/token",
            "redirect_uris": ["http://127.0.0.1"],
        }}  # fmt: skip

    def service_account_key(self, email: str = "sender@agapc-relay.iam.test") -> dict[str, Any]:
        """A new service account key (RSA), registered with the service."""
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import rsa

        private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pem = private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode()
        with self.state.lock:
            self.state.service_keys[email] = private.public_key()
        return {
            "type": "service_account", "project_id": "agapc-relay", "private_key_id": "k1",
            "private_key": pem, "client_email": email, "client_id": "1000",
            "token_uri": f"{self.base}/google/token",
        }  # fmt: skip
