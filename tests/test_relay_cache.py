"""The token store: private files written atomically, refused when others can read them; the OS
keyring through the keyring package's backend interface."""

from __future__ import annotations

import json
import os
import shutil
import stat
from collections.abc import Iterator
from pathlib import Path

import keyring
import pytest
from keyring.backend import KeyringBackend
from keyring.errors import PasswordDeleteError

from distrib.relay.cache import FileTokenStore, KeyringTokenStore, account_key, default_folder
from distrib.relay.errors import TokenCacheError

KEY = account_key("microsoft365", "https://login.microsoftonline.com/agapc", "c0ffee",
                  "presse@agapc.example", "delegated")  # fmt: skip
SECRET = '{"refresh": "rt-0123456789"}'


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_files_are_private_and_written_atomically(tmp_path: Path) -> None:
    store = FileTokenStore(tmp_path / "config" / "distrib" / "tokens")
    assert store.load(KEY) is None
    store.save(KEY, SECRET)
    path = store.path(KEY)
    assert mode(store.folder) == 0o700 and mode(path) == 0o600
    assert store.load(KEY) == SECRET
    store.save(KEY, SECRET.replace("0123", "9999"))
    assert store.load(KEY) == SECRET.replace("0123", "9999")
    assert [p.name for p in store.folder.iterdir()] == [path.name]  # no temporary file left
    assert "presse" not in path.name and path.name.startswith("microsoft365-")
    assert store.delete(KEY) is True and store.delete(KEY) is False
    assert store.load(KEY) is None


def test_a_loose_folder_is_tightened(tmp_path: Path) -> None:
    folder = tmp_path / "tokens"
    folder.mkdir(mode=0o755)
    folder.chmod(0o755)
    FileTokenStore(folder).save(KEY, SECRET)
    assert mode(folder) == 0o700


@pytest.mark.parametrize("loose", [0o640, 0o604, 0o660, 0o602])
def test_a_file_others_can_read_or_change_is_refused(tmp_path: Path, loose: int) -> None:
    store = FileTokenStore(tmp_path / "tokens")
    store.save(KEY, SECRET)
    store.path(KEY).chmod(loose)
    with pytest.raises(TokenCacheError, match=f"other users \\(mode {loose:04o}\\)") as refused:
        store.load(KEY)
    assert "rt-0123456789" not in str(refused.value)


def test_a_symlink_or_a_folder_is_refused(tmp_path: Path) -> None:
    store = FileTokenStore(tmp_path / "tokens")
    store.save(KEY, SECRET)
    elsewhere = tmp_path / "elsewhere.json"
    store.path(KEY).rename(elsewhere)
    store.path(KEY).symlink_to(elsewhere)
    with pytest.raises(TokenCacheError, match="cannot read the token cache"):
        store.load(KEY)
    store.path(KEY).unlink()
    store.path(KEY).mkdir()
    with pytest.raises(TokenCacheError):
        store.load(KEY)


@pytest.mark.skipif(os.geteuid() != 0, reason="changing a file's owner needs root")
def test_a_file_owned_by_another_user_is_refused(tmp_path: Path) -> None:
    store = FileTokenStore(tmp_path / "tokens")
    store.save(KEY, SECRET)
    shutil.chown(store.path(KEY), user="nobody")
    with pytest.raises(TokenCacheError, match="belongs to another user"):
        store.load(KEY)


def test_the_default_folder_is_in_the_users_config_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    assert default_folder() == tmp_path / "xdg" / "distrib" / "tokens"


class FileKeyring(KeyringBackend):
    """A keyring backend that keeps its entries in one JSON file (keyring's plug-in API)."""

    priority = 1  # type: ignore[assignment]

    def __init__(self, path: Path) -> None:
        super().__init__()
        self.path = path

    def _entries(self) -> dict[str, str]:
        return json.loads(self.path.read_text()) if self.path.exists() else {}

    def get_password(self, service: str, username: str) -> str | None:
        return self._entries().get(f"{service}/{username}")

    def set_password(self, service: str, username: str, password: str) -> None:
        entries = self._entries()
        entries[f"{service}/{username}"] = password
        self.path.write_text(json.dumps(entries))

    def delete_password(self, service: str, username: str) -> None:
        entries = self._entries()
        if entries.pop(f"{service}/{username}", None) is None:
            raise PasswordDeleteError(username)
        self.path.write_text(json.dumps(entries))


@pytest.fixture
def os_keyring(tmp_path: Path) -> Iterator[FileKeyring]:
    previous = keyring.get_keyring()
    backend = FileKeyring(tmp_path / "keyring.json")
    keyring.set_keyring(backend)
    try:
        yield backend
    finally:
        keyring.set_keyring(previous)


def test_the_keyring_store(os_keyring: FileKeyring) -> None:
    store = KeyringTokenStore()
    assert store.load(KEY) is None
    store.save(KEY, SECRET)
    assert json.loads(os_keyring.path.read_text()) == {f"distrib/{KEY}": SECRET}
    assert store.load(KEY) == SECRET
    assert "FileKeyring" in store.describe(KEY)
    assert store.delete(KEY) is True and store.delete(KEY) is False
    assert store.load(KEY) is None
