"""Loading the campaign file: valid files load, every problem is named with file and key."""

from __future__ import annotations

from pathlib import Path

import pytest

from distrib.config import load_campaign, smtp_password
from distrib.errors import ConfigError

MINIMAL = """
name = "test"
release = "release"
sources = ["contacts.csv"]

[sender]
name = "Service de presse"
address = "presse@org.example"
organisation = "Org"
postal_address = "1 rue X, Montréal"
"""


def make(tmp_path: Path, text: str = MINIMAL) -> Path:
    (tmp_path / "release").mkdir(exist_ok=True)
    (tmp_path / "contacts.csv").write_text("email\na@b.example\n", encoding="utf-8")
    path = tmp_path / "campaign.toml"
    path.write_text(text, encoding="utf-8")
    return path


def problems(path: Path) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_campaign(path)
    return [str(p) for p in info.value.problems]


def test_minimal_campaign_loads_with_secure_defaults(tmp_path: Path) -> None:
    campaign = load_campaign(make(tmp_path))
    assert campaign.release == tmp_path / "release"
    assert campaign.sources[0].path == tmp_path / "contacts.csv"
    assert campaign.smtp.security == "starttls"
    assert campaign.smtp.data_timeout == 600
    assert campaign.log_target == tmp_path / "distrib-log.sqlite"
    assert campaign.sender.domain == "org.example"
    assert campaign.sender.unsubscribe_address == "presse@org.example"
    with pytest.raises(Exception, match="frozen"):
        campaign.name = "other"  # type: ignore[misc]


def test_name_defaults_to_folder_name(tmp_path: Path) -> None:
    path = make(tmp_path, MINIMAL.replace('name = "test"\n', ""))
    assert load_campaign(path).name == tmp_path.name


def test_every_problem_is_reported_with_file_and_key(tmp_path: Path) -> None:
    text = MINIMAL.replace('address = "presse@org.example"', 'address = "presse@"') + (
        "\n[smtp]\nport = 99999\nsecurity = 'maybe'\nhots = 'x'\n"
    )
    found = problems(make(tmp_path, text))
    assert all(p.startswith("campaign.toml: ") or "/campaign.toml: " in p for p in found)
    joined = "\n".join(found)
    assert "sender.address: not a valid email address" in joined
    assert "smtp.port:" in joined
    assert "smtp.security:" in joined
    assert "smtp.hots: unknown key" in joined
    assert len(found) == 4


def test_missing_files_are_all_listed(tmp_path: Path) -> None:
    text = MINIMAL.replace('sources = ["contacts.csv"]', 'sources = ["nope.csv", "contacts.csv"]')
    text = text.replace('release = "release"', 'release = "missing"\nsuppression = "gone.csv"')
    found = "\n".join(problems(make(tmp_path, text)))
    assert "release: folder not found" in found
    assert "sources.0.path: file not found" in found and "nope.csv" in found
    assert "suppression.0: file not found" in found


def test_password_in_file_is_refused(tmp_path: Path) -> None:
    found = problems(make(tmp_path, MINIMAL + '\n[smtp]\npassword = "hunter2"\n'))
    assert any("smtp: 'password' is not read from the campaign file" in p for p in found)
    assert not any("hunter2" in p for p in found)


def test_toml_syntax_error_names_the_line(tmp_path: Path) -> None:
    found = problems(make(tmp_path, MINIMAL + "\n[smtp\nport = 1\n"))
    assert len(found) == 1
    assert ":12: not valid TOML" in found[0]


def test_header_injection_in_sender_name_is_refused(tmp_path: Path) -> None:
    text = MINIMAL.replace('name = "Service de presse"', 'name = "Presse\\r\\nBcc: x@y.example"')
    found = "\n".join(problems(make(tmp_path, text)))
    assert "sender.name: contains a carriage return (CR)" in found


def test_unsubscribe_url_must_be_https(tmp_path: Path) -> None:
    text = MINIMAL + 'unsubscribe_url = "http://org.example/u"\n'
    assert "https://" in "\n".join(problems(make(tmp_path, text)))


def test_password_comes_from_the_named_environment_variable(tmp_path: Path) -> None:
    text = MINIMAL + '\n[smtp]\nusername = "u"\npassword_env = "MY_RELAY_PW"\n'
    smtp = load_campaign(make(tmp_path, text)).smtp
    assert smtp_password(smtp, {"MY_RELAY_PW": "s3cret"}) == "s3cret"
    assert smtp_password(smtp, {}) is None
    assert "s3cret" not in repr(smtp)


def test_unreadable_and_non_utf8_files(tmp_path: Path) -> None:
    assert "cannot read campaign file" in problems(tmp_path / "absent.toml")[0]
    path = make(tmp_path)
    path.write_bytes(MINIMAL.replace("Montréal", "Montr\xe9al").encode("latin-1"))
    assert "must be UTF-8" in problems(path)[0]


def test_the_log_is_a_file_beside_the_campaign_or_a_postgresql_url(tmp_path: Path) -> None:
    relative = load_campaign(make(tmp_path, 'log = "logs/press.sqlite"\n' + MINIMAL))
    assert relative.log_target == tmp_path / "logs" / "press.sqlite"
    url = "postgresql://presse@db.quais.example/distrib?sslmode=require"
    shared = load_campaign(make(tmp_path, f'log = "{url}"\n' + MINIMAL))
    assert shared.log_target == url  # a URL, not resolved as a path
