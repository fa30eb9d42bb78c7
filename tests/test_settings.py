"""Settings come from the environment and are checked at start, with messages that name the fix."""

from __future__ import annotations

import pytest

from settings import DEFAULT_DATABASE_URL, Settings, SettingsError


def test_defaults_are_sqlite_under_var_and_no_cors() -> None:
    settings = Settings.from_env({})

    assert settings.database_url == DEFAULT_DATABASE_URL
    assert settings.database_url.endswith("/var/gateway.db")
    assert settings.cors_origins == ()
    assert settings.environment == "development"


def test_log_sources_are_read_with_optional_formats() -> None:
    settings = Settings.from_env(
        {"GATEWAY_LOG_SOURCES": "system=/var/log/syslog, app=/srv/app/app.log:jsonl, odd=/srv/x:y.log"}
    )

    assert [(s.name, str(s.path), s.format) for s in settings.log_sources] == [
        ("system", "/var/log/syslog", None),
        ("app", "/srv/app/app.log", "jsonl"),
        ("odd", "/srv/x:y.log", None),
    ]
    assert settings.log_index_seconds == 5.0


def test_environment_variables_are_read() -> None:
    settings = Settings.from_env(
        {
            "DATABASE_URL": "postgresql://db.internal/gateway",
            "GATEWAY_ENV": "production",
            "GATEWAY_CORS_ORIGINS": "https://app.example.com, https://admin.example.com",
        }
    )

    assert settings.database_url == "postgresql://db.internal/gateway"
    assert settings.cors_origins == ("https://app.example.com", "https://admin.example.com")
    assert settings.validate_responses is False


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"GATEWAY_CORS_ORIGINS": "*"}, "'\\*' is not allowed"),
        ({"GATEWAY_CORS_ORIGINS": "app.example.com"}, "is not an origin"),
        ({"GATEWAY_ENV": "staging"}, "GATEWAY_ENV must be one of"),
        ({"DATABASE_URL": "mysql://x"}, "DATABASE_URL must start with"),
        ({"GATEWAY_VALIDATE_RESPONSES": "maybe"}, "must be true or false"),
        ({"GATEWAY_LOG_SOURCES": "system"}, "is not name=/path/to/file.log"),
        ({"GATEWAY_LOG_SOURCES": "System=/var/log/syslog"}, "is not name=/path/to/file.log"),
        ({"GATEWAY_LOG_SOURCES": "app=relative/app.log"}, "must be absolute"),
        ({"GATEWAY_LOG_SOURCES": "app=/a.log,app=/b.log"}, "named twice"),
        ({"GATEWAY_LOG_INDEX_SECONDS": "soon"}, "number of seconds"),
        ({"GATEWAY_LOG_INDEX_SECONDS": "-1"}, "between 0"),
        ({"GATEWAY_DATABASE_WORK": "inline", "DATABASE_URL": "postgresql://db/gateway"}, "must be one of auto"),
        ({"GATEWAY_DATABASE_WORK": "threads"}, "applies to PostgreSQL"),
        ({"WEB_CONCURRENCY": "two"}, "WEB_CONCURRENCY must be a whole number"),
        ({"WEB_CONCURRENCY": "0"}, "at least 1"),
    ],
)
def test_bad_settings_are_refused_with_a_clear_message(env: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        Settings.from_env(env)


@pytest.mark.parametrize(
    ("env", "docs"),
    [
        ({}, True),
        ({"GATEWAY_ENV": "production"}, False),
        ({"GATEWAY_ENV": "production", "GATEWAY_DOCS": "on"}, True),
        ({"GATEWAY_DOCS": "off"}, False),
    ],
    ids=["development shows them", "production hides them", "production on request", "development on request"],
)
def test_the_docs_pages_are_on_while_developing_and_off_in_production(env: dict[str, str], docs: bool) -> None:
    assert Settings.from_env(env).docs is docs


def test_where_postgresql_work_runs_is_worked_out_unless_told_and_workers_are_counted() -> None:
    assert Settings.from_env({}).database_work == "auto"
    assert Settings.from_env({}).worker_processes == 1
    told = Settings.from_env(
        {"DATABASE_URL": "postgresql://db/gateway", "GATEWAY_DATABASE_WORK": "event-loop", "WEB_CONCURRENCY": "3"}
    )
    assert (told.database_work, told.worker_processes) == ("event-loop", 3)
