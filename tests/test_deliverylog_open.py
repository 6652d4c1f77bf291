"""`open_log`: which adapter a name selects, clear errors for what cannot be opened, and a
PostgreSQL password never shown."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from distrib.deliverylog import describe, is_url, open_log
from distrib.deliverylog.urls import database_name, redact, scrub
from distrib.errors import DeliveryLogError

SECRET = "s3cr@t-Pa55"


@pytest.mark.parametrize(
    ("url", "shown", "secret"),
    [
        (f"postgresql://presse:{SECRET}@db.example:5432/distrib?sslmode=require",
         "postgresql://presse@db.example:5432/distrib?sslmode=require", SECRET),
        ("postgresql://presse:s3cr%40t@db.example/distrib",
         "postgresql://presse@db.example/distrib", "s3cr@t"),
        ("postgresql://presse:a/b@db.example/distrib", "postgresql://presse@db.example/distrib",
         "a/b"),
        (f"postgresql://db.example/distrib?password={SECRET}&sslmode=require",
         "postgresql://db.example/distrib?sslmode=require", SECRET),
        (f"postgresql://db.example/distrib?sslmode=require&PASSWORD={SECRET}",
         "postgresql://db.example/distrib?sslmode=require", SECRET),
        ("postgresql://presse@/distrib?host=/run/postgresql",
         "postgresql://presse@/distrib?host=/run/postgresql", None),
    ],
)  # fmt: skip
def test_a_url_is_shown_without_its_password(url: str, shown: str, secret: str | None) -> None:
    assert redact(url) == shown == describe(url)
    assert database_name(url) == "distrib"
    if secret is not None:
        said = scrub(f"could not connect to {url}: password {secret} refused", url)
        assert secret not in said and shown in said


def test_names_select_the_adapter() -> None:
    assert is_url("postgresql://db/x") and is_url("postgres://db/x")
    assert not is_url("distrib-log.sqlite") and not is_url(Path("postgresql:/x"))


def test_an_unknown_scheme_is_a_clear_error() -> None:
    with pytest.raises(DeliveryLogError, match=r"mysql://u@db/x: not a delivery log .*postgresql"):
        open_log(f"mysql://u:{SECRET}@db/x")
    with pytest.raises(DeliveryLogError) as caught:
        open_log(f"mysql://u:{SECRET}@db/x")
    assert SECRET not in str(caught.value)


def test_without_psycopg_the_error_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [m for m in sys.modules if m.startswith("distrib.deliverylog.postgres")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "psycopg", None)  # as if not installed
    with pytest.raises(DeliveryLogError, match=r"pip install 'distrib\[postgresql\]'") as caught:
        open_log(f"postgresql://presse:{SECRET}@db.example/distrib")
    assert SECRET not in str(caught.value)


def test_a_server_that_cannot_be_reached_is_a_clear_error(tmp_path: Path) -> None:
    url = f"postgresql://presse:{SECRET}@/distrib?host={tmp_path}&port=1&connect_timeout=2"
    with pytest.raises(DeliveryLogError, match="cannot open the delivery log") as caught:
        open_log(url)
    assert SECRET not in str(caught.value)
    assert str(caught.value).startswith(f"postgresql://presse@/distrib?host={tmp_path}")


def test_a_wrong_password_is_refused_without_showing_it(postgres_cluster: object) -> None:
    # The test cluster trusts every local user: ask for a role that does not exist instead.
    url = str(postgres_cluster.url()).replace("distrib@", f"nobody:{SECRET}@")  # type: ignore[attr-defined]
    with pytest.raises(DeliveryLogError, match="nobody") as caught:
        open_log(url)
    assert SECRET not in str(caught.value)
