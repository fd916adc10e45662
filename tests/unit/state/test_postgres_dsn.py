"""``--state postgresql://…`` → libpq parameters, pool settings and a description (no I/O)."""

from __future__ import annotations

import pytest
from psycopg.conninfo import conninfo_to_dict

from image_automation.errors import StateError
from image_automation.state._postgres_dsn import PostgresSettings, Target, parse_url

NO_ENV: dict[str, str] = {}


def params(target: Target) -> dict[str, object]:
    return dict(conninfo_to_dict(target.conninfo))


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            "postgresql://ia:s3cret@db.example:6432/state",
            {"host": "db.example", "port": "6432", "user": "ia", "password": "s3cret"},
        ),
        ("postgres://ia@db/state", {"host": "db", "user": "ia", "dbname": "state"}),
        ("postgresql://ia:p%40ss%2Fw%3Ard@db/state", {"password": "p@ss/w:rd"}),
        (
            "postgresql://db/state?sslmode=verify-full&sslrootcert=/etc/ca.crt"
            "&sslcert=/s/tls.crt&sslkey=/s/tls.key",
            {
                "sslmode": "verify-full",
                "sslrootcert": "/etc/ca.crt",
                "sslcert": "/s/tls.crt",
                "sslkey": "/s/tls.key",
            },
        ),
        ("postgresql:///state?host=/var/run/postgresql", {"host": "/var/run/postgresql"}),
        ("postgresql://%2Fvar%2Frun%2Fpostgresql/state", {"host": "/var/run/postgresql"}),
        ("postgresql://db/state?options=-c%20search_path%3Dia", {"options": "-c search_path=ia"}),
        ("postgresql://db/state?passfile=/secrets/pgpass", {"passfile": "/secrets/pgpass"}),
        ("postgresql://db/state?application_name=replica-1", {"application_name": "replica-1"}),
    ],
)
def test_libpq_parameters_pass_through(url: str, expected: dict[str, str]) -> None:
    got = params(parse_url(url, NO_ENV))
    assert {key: got.get(key) for key in expected} == expected


def test_defaults_are_added_and_our_settings_are_taken_out() -> None:
    target = parse_url(
        "postgresql://db/state?pool_min_size=2&sslmode=require&pool_max_size=8&pool_timeout=2.5",
        NO_ENV,
    )
    assert target.settings == PostgresSettings(min_size=2, max_size=8, pool_timeout=2.5)
    assert params(target) == {
        "host": "db",
        "dbname": "state",
        "sslmode": "require",
        "connect_timeout": "10",
        "application_name": "image-automation",
    }


def test_connect_timeout_is_libpqs_own_and_also_a_setting() -> None:
    target = parse_url("postgresql://db/state?connect_timeout=3", NO_ENV)
    assert target.settings.connect_timeout == 3
    assert params(target)["connect_timeout"] == "3"


@pytest.mark.parametrize(
    ("url", "env", "description"),
    [
        (
            "postgresql://ia:pw@db:6432/state",
            NO_ENV,
            'PostgreSQL database "state" at db:6432 as ia',
        ),
        (
            "postgresql://db",
            NO_ENV,
            'PostgreSQL database "the login user" at db:5432 as the login user',
        ),
        (
            "postgresql://",
            {"PGHOST": "pg.internal", "PGUSER": "bot", "PGDATABASE": "ia", "PGPORT": "1"},
            'PostgreSQL database "ia" at pg.internal:1 as bot',
        ),
        (
            "postgresql:///ia",
            NO_ENV,
            'PostgreSQL database "ia" at the local socket:5432 as the login user',
        ),
    ],
)
def test_description_names_what_libpq_will_reach(
    url: str, env: dict[str, str], description: str
) -> None:
    assert parse_url(url, env).description == description


def test_the_password_is_in_no_text_of_the_target() -> None:
    target = parse_url("postgresql://ia:hunter2-%40x@db/state?password=other-pw", NO_ENV)
    shown = repr(target) + target.description + repr(target.settings)
    for secret in ("hunter2", "other-pw"):
        assert secret not in shown
    assert {"hunter2-@x", "hunter2-%40x", "other-pw"} <= target.secrets


@pytest.mark.parametrize(
    ("query", "error"),
    [
        ("pool_max_size=0", "pool_max_size must be 1 to 100, got 0"),
        ("pool_max_size=1000", "pool_max_size must be 1 to 100, got 1000"),
        ("pool_min_size=-1", "pool_min_size must be 0 to 100, got -1"),
        ("pool_min_size=5&pool_max_size=2", r"pool_min_size \(5\) exceeds pool_max_size \(2\)"),
        ("pool_timeout=nan", "pool_timeout must be a number, got 'nan'"),
        ("pool_timeout=inf", "pool_timeout must be a number, got 'inf'"),
        ("pool_timeout=0", "pool_timeout must be 0.1 to 3600.0, got 0.0"),
        (
            "pool_max_size=" + "9" * 5000,
            "pool_max_size must be a number, got '9999",
        ),  # > 4300 digits
        ("pool_max_size=" + "9" * 50, "pool_max_size must be 1 to 100, got 9999"),
        ("pool_max_size=two", "pool_max_size must be a number, got 'two'"),
        ("pool_max_size=2&pool_max_size=3", "pool_max_size is given twice"),
        ("connect_timeout=0", "connect_timeout must be 1 to 3600, got 0"),
        ("connect_timeout=soon", "connect_timeout must be a number, got 'soon'"),
    ],
)
def test_bad_settings_are_refused_by_name(query: str, error: str) -> None:
    with pytest.raises(StateError, match=error):
        parse_url(f"postgresql://ia:pw@db/state?{query}", NO_ENV)


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://ia:pw%zz@db/state",
        "postgresql://db/state?bogus=1&password=pw-in-query",
        "postgresql://ia:p/w@d?b@db/state?x",
    ],
)
def test_malformed_urls_are_refused_without_libpqs_text(url: str) -> None:
    with pytest.raises(StateError, match="details withheld") as caught:
        parse_url(url, NO_ENV)
    assert caught.value.__cause__ is None
    assert caught.value.__context__ is None  # libpq's message quotes the password
    assert "pw" not in str(caught.value).replace("password", "")


def test_malformed_url_without_credentials_says_what_libpq_said() -> None:
    with pytest.raises(StateError, match='invalid URI query parameter: "bogus"'):
        parse_url("postgresql://db/state?bogus=1", NO_ENV)
