"""Where OAuth2 sign-ins are kept between runs: a private file, or the OS keyring.

A sign-in holds a **refresh token**, which is as good as a password for sending as the officer:

* :class:`FileTokenStore` keeps one JSON file per account in ``<config>/tokens/`` (the user's
  config folder, from platformdirs: ``~/.config/distrib/tokens`` on Linux).  The folder is made
  ``0700`` and each file ``0600``; a file is written to a temporary name in the same folder,
  flushed to disk and renamed over the old one, so a crash leaves the old sign-in or the new
  one, never half of each.  A file that another user could read (or that another user owns) is
  **refused**, not read: the officer is told to sign in again after removing it.
* :class:`KeyringTokenStore` keeps the same text in the OS keyring (the ``keyring`` package:
  GNOME Keyring / KWallet through Secret Service, macOS Keychain, Windows Credential Locker),
  under the service name ``distrib``.  Optional: ``pip install 'distrib[keyring]'``.

Both store opaque text under a key that names the account (`account_key`); neither ever logs
or returns it in an error message.
"""

from __future__ import annotations

import hashlib
import os
import re
import stat
import tempfile
from pathlib import Path
from typing import Protocol

from distrib.relay.errors import TokenCacheError

__all__ = [
    "FileTokenStore",
    "KeyringTokenStore",
    "TokenStore",
    "account_key",
    "default_folder",
]

KEYRING_SERVICE = "distrib"
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


class TokenStore(Protocol):
    """Somewhere to keep one opaque text per account."""

    def load(self, key: str) -> str | None:
        """Return the text kept under ``key``, or None when there is none."""

    def save(self, key: str, value: str) -> None:
        """Keep ``value`` under ``key`` (replacing any older one)."""

    def delete(self, key: str) -> bool:
        """Forget ``key``; return whether there was anything to forget."""

    def describe(self, key: str) -> str:
        """Where ``key`` is kept, for people ("~/.config/distrib/tokens/….json")."""


def account_key(provider: str, *parts: str) -> str:
    """The key of one sign-in: the provider and what identifies the account there.

    ``account_key("microsoft365", tenant, client_id, user)``; the parts are compared as given
    (the callers lower-case addresses, which every provider compares without case).
    """
    return "|".join([provider, *(part.strip() for part in parts)])


def default_folder() -> Path:
    """The token folder in the user's config folder (``$XDG_CONFIG_HOME/distrib/tokens``)."""
    from platformdirs import user_config_path

    return user_config_path("distrib", appauthor=False) / "tokens"


class FileTokenStore:
    """One ``0600`` JSON file per account in a ``0700`` folder of the user's config folder."""

    def __init__(self, folder: Path | None = None) -> None:
        self.folder = folder if folder is not None else default_folder()

    def path(self, key: str) -> Path:
        """The file that holds ``key``: the provider, then a digest of the rest of the key."""
        provider = _UNSAFE.sub("-", key.split("|", 1)[0])[:40] or "account"
        digest = hashlib.sha256(key.encode("utf-8")).hexdigest()[:24]
        return self.folder / f"{provider}-{digest}.json"

    def describe(self, key: str) -> str:
        """The file's path."""
        return str(self.path(key))

    def load(self, key: str) -> str | None:
        """Read the file, after checking that no other user can read or own it."""
        path = self.path(key)
        try:
            fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise TokenCacheError(f"{path}: cannot read the token cache: {exc.strerror}") from None
        try:
            info = os.fstat(fd)
            _check_private(path, info)
            with os.fdopen(fd, "rb") as handle:
                fd = -1
                data = handle.read()
        except OSError as exc:
            raise TokenCacheError(f"{path}: cannot read the token cache: {exc.strerror}") from None
        finally:
            if fd >= 0:
                os.close(fd)
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            raise TokenCacheError(
                f"{path}: the token cache is damaged; delete it and sign in again"
                " (`distrib relay login`)"
            ) from None

    def save(self, key: str, value: str) -> None:
        """Write the file atomically with mode 0600, in a folder with mode 0700."""
        path = self.path(key)
        try:
            self._make_folder()
            fd, temporary = tempfile.mkstemp(prefix=".tmp-", suffix=".json", dir=self.folder)
        except OSError as exc:
            raise TokenCacheError(
                f"{self.folder}: cannot write the token cache: {exc.strerror}"
            ) from None
        try:
            os.fchmod(fd, 0o600)  # mkstemp makes it 0600 already; say so for every platform
            with os.fdopen(fd, "wb") as handle:
                handle.write(value.encode("utf-8"))
                handle.flush()
                os.fsync(handle.fileno())
            Path(temporary).replace(path)
        except OSError as exc:
            Path(temporary).unlink(missing_ok=True)
            raise TokenCacheError(f"{path}: cannot write the token cache: {exc.strerror}") from None
        _sync_folder(self.folder)

    def delete(self, key: str) -> bool:
        """Remove the file."""
        path = self.path(key)
        try:
            path.unlink()
        except FileNotFoundError:
            return False
        except OSError as exc:
            raise TokenCacheError(
                f"{path}: cannot remove the token cache: {exc.strerror}"
            ) from None
        _sync_folder(self.folder)
        return True

    def _make_folder(self) -> None:
        self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        info = self.folder.stat()
        if info.st_uid != os.geteuid():
            raise TokenCacheError(
                f"{self.folder}: the token folder belongs to another user; refusing to use it"
            )
        if stat.S_IMODE(info.st_mode) & 0o077:
            self.folder.chmod(0o700)


def _check_private(path: Path, info: os.stat_result) -> None:
    if not stat.S_ISREG(info.st_mode):
        raise TokenCacheError(f"{path}: the token cache is not a regular file; refusing to read it")
    if info.st_uid != os.geteuid():
        raise TokenCacheError(
            f"{path}: the token cache belongs to another user; refusing to read it"
        )
    mode = stat.S_IMODE(info.st_mode)
    if mode & 0o077:
        raise TokenCacheError(
            f"{path}: the token cache can be read or changed by other users (mode {mode:04o});"
            " refusing to use it: delete it, then sign in again with `distrib relay login`"
        )


def _sync_folder(folder: Path) -> None:
    """Make a rename or an unlink durable (POSIX; a no-op where folders cannot be opened)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


class KeyringTokenStore:
    """The OS keyring, through the ``keyring`` package (service name ``distrib``)."""

    def __init__(self, service: str = KEYRING_SERVICE) -> None:
        self.service = service
        try:
            import keyring
        except ImportError:
            raise TokenCacheError(
                "the keyring token store needs the keyring package: pip install 'distrib[keyring]'"
            ) from None
        self._keyring = keyring

    def describe(self, key: str) -> str:
        """The keyring backend and the entry's name."""
        backend = type(self._keyring.get_keyring()).__name__
        return f"OS keyring ({backend}), service {self.service!r}"

    def load(self, key: str) -> str | None:
        """Read the keyring entry."""
        from keyring.errors import KeyringError

        try:
            return self._keyring.get_password(self.service, key)
        except KeyringError as exc:
            raise TokenCacheError(f"cannot read the OS keyring: {type(exc).__name__}") from None

    def save(self, key: str, value: str) -> None:
        """Write the keyring entry."""
        from keyring.errors import KeyringError

        try:
            self._keyring.set_password(self.service, key, value)
        except KeyringError as exc:
            raise TokenCacheError(f"cannot write to the OS keyring: {type(exc).__name__}") from None

    def delete(self, key: str) -> bool:
        """Delete the keyring entry."""
        from keyring.errors import KeyringError, PasswordDeleteError

        try:
            self._keyring.delete_password(self.service, key)
        except PasswordDeleteError:
            return False
        except KeyringError as exc:
            raise TokenCacheError(f"cannot change the OS keyring: {type(exc).__name__}") from None
        return True
