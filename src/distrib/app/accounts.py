"""Team accounts for `distrib ui` on a team server (``--host`` other than the loopback).

A local `distrib ui` is guarded by the random access token it prints; a team server, reached
by several officers through a reverse proxy with TLS, needs named accounts instead.  They live
in ``users.toml`` beside the workspace's file, one line per account, the password hashed with
Argon2id (argon2-cffi's defaults, RFC 9106's second recommended setting)::

    # distrib ui accounts: `distrib users add NAME` / `distrib users remove NAME`
    [users]
    "camille" = "$argon2id$v=19$m=65536,t=3,p=4$…"

The file is written with mode 0600; a password is never stored, printed or logged.  Checking
a login costs one Argon2 verification whether the name exists or not, so the time it takes
does not tell which names exist.
"""

from __future__ import annotations

import functools
import os
import re
import secrets
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from distrib.errors import AccountsError, Location, Problem

if TYPE_CHECKING:
    from argon2 import PasswordHasher

__all__ = [
    "MIN_PASSWORD",
    "USERS_FILE",
    "Account",
    "Accounts",
    "accounts_file",
    "add_account",
    "check_login",
    "load_accounts",
    "remove_account",
]

#: The accounts file's name, beside the workspace's file.
USERS_FILE = "users.toml"
#: The shortest password an account may have.
MIN_PASSWORD = 12
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}")
_HEADER = "# distrib ui accounts: `distrib users add NAME` / `distrib users remove NAME`\n"


@dataclass(frozen=True, slots=True)
class Account:
    """One officer who may sign in to a team server: a name and an Argon2 hash."""

    name: str
    password_hash: str


@dataclass(frozen=True, slots=True)
class Accounts:
    """The accounts of one workspace (none: the file does not exist or lists nobody)."""

    file: Path
    users: tuple[Account, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.users)

    def names(self) -> list[str]:
        """The account names, in the file's order."""
        return [u.name for u in self.users]


def accounts_file(workspace: Path) -> Path:
    """Where the accounts of ``workspace`` (its file, or its folder) are kept."""
    folder = workspace if workspace.is_dir() else workspace.parent
    return folder / USERS_FILE


def _hasher() -> PasswordHasher:
    from argon2 import PasswordHasher

    return PasswordHasher()


def load_accounts(file: Path) -> Accounts:
    """Read ``file`` (no file: no accounts); every problem is listed in `AccountsError`."""
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        return Accounts(file)
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise AccountsError([Problem(f"cannot read it: {reason}", Location(str(file)))]) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise AccountsError([Problem(f"not valid TOML: {exc}", Location(str(file)))]) from None
    users = data.get("users", {})
    problems: list[Problem] = []
    if not isinstance(users, dict):
        problems.append(Problem("[users] must be a table", Location(str(file), column="users")))
        users = {}
    found = []
    for name, value in users.items():
        where = Location(str(file), column=f"users.{name}")
        if not _NAME.fullmatch(name):
            problems.append(Problem(f"{name!r} is not a valid account name", where))
        elif not isinstance(value, str) or not value.startswith("$argon2"):
            problems.append(Problem("must be an Argon2 hash (use `distrib users add`)", where))
        else:
            found.append(Account(name, value))
    if problems:
        raise AccountsError(problems, f"{file}: the accounts file cannot be used")
    return Accounts(file, tuple(found))


def _write(accounts: Accounts) -> None:
    lines = [_HEADER, "[users]\n"]
    lines.extend(f'"{u.name}" = "{u.password_hash}"\n' for u in accounts.users)
    temporary = accounts.file.with_name(f".{accounts.file.name}.{os.getpid()}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write("".join(lines))
        temporary.replace(accounts.file)
    except OSError as exc:
        temporary.unlink(missing_ok=True)
        where = Location(str(accounts.file))
        raise AccountsError([Problem(f"cannot write it: {exc.strerror}", where)]) from None


def add_account(file: Path, name: str, password: str) -> Accounts:
    """Add ``name`` (or change its password) with ``password`` hashed; return the accounts."""
    where = Location(str(file), column=f"users.{name}")
    problems = []
    if not _NAME.fullmatch(name):
        problems.append(
            Problem(
                f"{name!r}: an account name is 1 to 64 letters, digits, '.', '_', '@' or '-'",
                where,
            )
        )
    if len(password) < MIN_PASSWORD:
        problems.append(
            Problem(f"the password is too short: use at least {MIN_PASSWORD} characters", where)
        )
    if problems:
        raise AccountsError(problems)
    accounts = load_accounts(file)
    account = Account(name, _hasher().hash(password))
    kept = [u for u in accounts.users if u.name != name]
    updated = Accounts(file, (*kept, account))
    _write(updated)
    return updated


def remove_account(file: Path, name: str) -> bool:
    """Remove ``name``; tell whether it was there."""
    accounts = load_accounts(file)
    kept = tuple(u for u in accounts.users if u.name != name)
    if len(kept) == len(accounts.users):
        return False
    _write(Accounts(file, kept))
    return True


@functools.cache
def _dummy_hash() -> str:
    """A hash verified when the name is unknown: a wrong name costs as long as a wrong password."""
    return _hasher().hash(secrets.token_urlsafe(16))


def check_login(accounts: Accounts, name: str, password: str) -> Account | None:
    """Return the account ``name`` signs in to with ``password``, or None."""
    from argon2.exceptions import InvalidHashError, VerificationError

    account = next((u for u in accounts.users if u.name == name), None)
    hasher = _hasher()
    try:
        hasher.verify(account.password_hash if account else _dummy_hash(), password)
    except (VerificationError, InvalidHashError):
        return None
    return account
