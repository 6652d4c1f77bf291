"""A throwaway IMAP server for the tests: Debian's Dovecot (``dovecot-imapd``), with its own
configuration in a temporary folder, listening on 127.0.0.1 only (a free port), with one user
whose mail is a Maildir in that folder.  Stopped and deleted afterwards.

Two listeners: ``port`` (plain IMAP with STARTTLS) and ``tls_port`` (implicit TLS, "imaps"),
both with a trustme certificate for 127.0.0.1.  Dovecot counts 127.0.0.1 as secure, so plain
LOGIN works there (distrib itself refuses it unless told the host is local).

Authentication: a ``passwd-file`` with the user's password for PLAIN and LOGIN; XOAUTH2 and
OAUTHBEARER are offered too, and with ``introspection_url`` Dovecot's ``oauth2`` passdb checks
each bearer token there (RFC 7662 token introspection, the tests' local token service), so a
token is accepted only when the token service issued it to that user.

Under root (CI), the master runs as root, logins as the Debian package's ``dovenull`` user and
mail processes as ``dovecot``; otherwise everything runs as the current user.
"""

from __future__ import annotations

import grp
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from smtp_server import TLSFiles

DOVECOT = Path("/usr/sbin/dovecot")
SKIP_REASON = "Dovecot not installed (scripts/install-system-deps.sh installs dovecot-imapd)"
USER = "presse@agapc.example"
PASSWORD = "imap-password-0042"

CONFIG = """\
protocols = imap
listen = 127.0.0.1
base_dir = {folder}/run
state_dir = {folder}/state
instance_name = distrib-test-{port}
log_path = {folder}/dovecot.log
info_log_path = {folder}/dovecot.log
default_internal_user = {internal_user}
default_internal_group = {internal_group}
default_login_user = {login_user}
first_valid_uid = {uid}
last_valid_uid = {uid}
first_valid_gid = {gid}
mail_location = maildir:{folder}/mail/%n
mail_privileged_group =
disable_plaintext_auth = no
auth_mechanisms = plain login xoauth2 oauthbearer
auth_username_format = %Lu
ssl = yes
ssl_cert = <{folder}/cert.pem
ssl_key = <{folder}/key.pem
ssl_min_protocol = TLSv1.2
login_greeting = distrib test IMAP ready.
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%Lu {folder}/passwd
  mechanisms = plain login
}}
{oauth_passdb}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={folder}/mail/%n
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {tls_port}
    ssl = yes
  }}
}}
service stats {{
  unix_listener stats-reader {{
    mode = 0600
  }}
  unix_listener stats-writer {{
    mode = 0666
  }}
}}
protocol imap {{
  mail_max_userip_connections = 50
}}
"""


def available() -> bool:
    """Tell whether Dovecot is installed."""
    return DOVECOT.is_file() and os.access(DOVECOT, os.X_OK)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class DovecotServer:
    """One running Dovecot; `user`/`password` log in, `folder` holds everything."""

    folder: Path
    tls_files: TLSFiles
    port: int = 0
    tls_port: int = 0
    user: str = USER
    password: str = PASSWORD
    introspection_url: str | None = None
    extra_config: str = ""
    process: subprocess.Popen[bytes] | None = None

    @classmethod
    def start(
        cls, tls_files: TLSFiles, introspection_url: str | None = None, extra_config: str = ""
    ) -> DovecotServer:
        """Write the configuration (``extra_config`` appended: e.g. a namespace whose folders
        have SPECIAL-USE flags) and start Dovecot (ready when this returns)."""
        # Not under pytest's tmp_path: that is private to root, and mail processes run as
        # another user under root.
        folder = Path(tempfile.mkdtemp(prefix="distrib-imap-"))
        folder.chmod(0o755)
        server = cls(folder, tls_files, introspection_url=introspection_url)
        server.extra_config = extra_config
        for attempt in range(3):
            server.port, server.tls_port = _free_port(), _free_port()
            try:
                server._launch()
                return server
            except RuntimeError:
                server.stop(delete=False)
                if attempt == 2:
                    shutil.rmtree(folder, ignore_errors=True)
                    raise
        raise AssertionError("unreachable")

    def _identities(self) -> tuple[str, str, str, int, int]:
        if os.geteuid() == 0:
            mail = pwd.getpwnam("dovecot")
            return "dovecot", "dovecot", "dovenull", mail.pw_uid, mail.pw_gid
        me = pwd.getpwuid(os.geteuid())
        group = grp.getgrgid(os.getegid()).gr_name
        return me.pw_name, group, me.pw_name, os.geteuid(), os.getegid()

    def _launch(self) -> None:
        internal_user, internal_group, login_user, uid, gid = self._identities()
        cert = self.tls_files.ca.issue_cert("127.0.0.1", "localhost")
        cert.private_key_pem.write_to_path(str(self.folder / "key.pem"))
        (self.folder / "cert.pem").write_bytes(b"".join(b.bytes() for b in cert.cert_chain_pems))
        (self.folder / "key.pem").chmod(0o600)
        (self.folder / "mail").mkdir(exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(self.folder / "mail", user=uid, group=gid)
        self.set_password(self.password)
        oauth_passdb = ""
        if self.introspection_url is not None:
            # The auth process runs as another user under root: a readable copy of the CA.
            shutil.copyfile(self.tls_files.ca_file, self.folder / "ca.pem")
            (self.folder / "ca.pem").chmod(0o644)
            (self.folder / "oauth2.conf").write_text(
                f"introspection_mode = post\nintrospection_url = {self.introspection_url}\n"
                f"tls_ca_cert_file = {self.folder}/ca.pem\nusername_attribute = username\n"
                "active_attribute = active\nactive_value = true\n"
            )
            oauth_passdb = (
                "passdb {\n  driver = oauth2\n  mechanisms = xoauth2 oauthbearer\n"
                f"  args = {self.folder}/oauth2.conf\n}}\n"
            )
        config = CONFIG.format(
            oauth_passdb=oauth_passdb,
            folder=self.folder, port=self.port, tls_port=self.tls_port,
            internal_user=internal_user, internal_group=internal_group, login_user=login_user,
            uid=uid, gid=gid,
        )  # fmt: skip
        (self.folder / "dovecot.conf").write_text(config + self.extra_config)
        self.process = subprocess.Popen(
            [str(DOVECOT), "-F", "-c", str(self.folder / "dovecot.conf")],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        for _ in range(200):
            if self.process.poll() is not None:
                raise RuntimeError(f"dovecot exited: {self._diagnostics()}")
            if self._greets():
                return
            time.sleep(0.05)
        raise RuntimeError(f"dovecot did not answer: {self._diagnostics()}")

    def _greets(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=2) as conn:
                return conn.recv(200).startswith(b"* OK")
        except OSError:
            return False

    def _diagnostics(self) -> str:
        log = self.folder / "dovecot.log"
        tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
        err = b""
        if self.process is not None and self.process.stderr is not None and self.process.poll():
            err = self.process.stderr.read()
        return f"{err.decode(errors='replace')}\n{tail}"

    def set_password(self, secret: str) -> None:
        """The user's password."""
        self.password = secret
        path = self.folder / "passwd"
        path.write_text(f"{self.user}:{{PLAIN}}{secret}::::::\n")
        path.chmod(0o644)

    @property
    def log(self) -> str:
        """Dovecot's log so far."""
        path = self.folder / "dovecot.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self, *, delete: bool = True) -> None:
        """Stop Dovecot and delete its folder."""
        if self.process is not None:
            if self.process.poll() is None:
                self.process.terminate()
                try:
                    self.process.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    self.process.kill()
                    self.process.wait()
            if self.process.stderr is not None:
                self.process.stderr.close()
            self.process = None
        if delete:
            shutil.rmtree(self.folder, ignore_errors=True)
