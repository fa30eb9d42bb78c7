"""One typed settings object, read from the environment and checked at start."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from loganalysis.sources import LogSource, SourceConfigError, parse_sources

PROJECT_ROOT = Path(__file__).resolve().parent
DEFAULT_DATABASE_URL = f"sqlite:///{PROJECT_ROOT / 'var' / 'gateway.db'}"
ENVIRONMENTS = ("development", "production")
LOG_FORMATS = ("json", "text")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
# Where PostgreSQL's brief reads and writes run (web.threads.Placement): worked out at start, or as told.
DATABASE_WORK = ("auto", "threads", "event-loop")
# A bearer token (RFC 6750 token68), long enough that it cannot be guessed.
METRICS_TOKEN = re.compile(r"[A-Za-z0-9\-._~+/]{32,256}=*")


class SettingsError(ValueError):
    """A setting is missing or wrong; the message names the variable and what it expects."""


@dataclass(frozen=True)
class PasswordHashing:
    """Argon2id cost. The default is RFC 9106's second recommended option (64 MiB, 3 passes)."""

    time_cost: int = 3
    memory_kib: int = 65536
    parallelism: int = 4


@dataclass(frozen=True)
class Settings:
    database_url: str = DEFAULT_DATABASE_URL
    environment: str = "development"
    cors_origins: tuple[str, ...] = ()
    password_hashing: PasswordHashing = field(default_factory=PasswordHashing)
    # Checking every response against the spec costs time; tests and development turn it on.
    validate_responses: bool = False
    log_sources: tuple[LogSource, ...] = ()
    # Pause of the background log indexer between catch-ups; 0 turns it off (stats then count on demand).
    log_index_seconds: float = 0.0
    # The limits themselves are in the spec; these say whether they apply and where requests are counted.
    rate_limits: bool = True
    rate_limit_store: str = "database"
    # The bearer token a Prometheus server sends to scrape /metrics; without one, /metrics answers 404.
    metrics_token: str | None = None
    # JSON lines for collectors (the default in production), readable text while developing.
    log_format: str = "text"
    log_level: str = "INFO"
    # The rendered docs (Swagger UI, Redoc): on while developing, off in production unless asked for.
    # The spec itself (openapi.json) is always served: clients are generated from it.
    docs: bool = True
    # Where PostgreSQL's brief calls run (web.threads.Placement); "auto" decides from the two below.
    database_work: str = "auto"
    # The worker processes serving the app on this machine (WEB_CONCURRENCY, as gunicorn and uvicorn read it).
    worker_processes: int = 1

    def __post_init__(self) -> None:
        if self.environment not in ENVIRONMENTS:
            raise SettingsError(f"GATEWAY_ENV must be one of {', '.join(ENVIRONMENTS)}, not {self.environment!r}")
        if not self.database_url.startswith(("sqlite:", "postgresql:", "postgresql+psycopg:")):
            raise SettingsError("DATABASE_URL must start with sqlite: or postgresql:")
        if self.rate_limit_store != "database" and not self.rate_limit_store.startswith(
            ("redis://", "rediss://", "unix://")
        ):
            raise SettingsError("GATEWAY_RATE_LIMIT_STORE must be 'database' or a redis:// URL")
        if self.database_work not in DATABASE_WORK:
            raise SettingsError(
                f"GATEWAY_DATABASE_WORK must be one of {', '.join(DATABASE_WORK)}, not {self.database_work!r}"
            )
        if self.database_work != "auto" and self.database_url.startswith("sqlite:"):
            raise SettingsError("GATEWAY_DATABASE_WORK applies to PostgreSQL; SQLite's work runs where it must")
        if self.worker_processes < 1:
            raise SettingsError("WEB_CONCURRENCY must be a whole number of worker processes, at least 1")
        if self.log_format not in LOG_FORMATS:
            raise SettingsError(f"GATEWAY_LOG_FORMAT must be json or text, not {self.log_format!r}")
        if self.log_level not in LOG_LEVELS:
            raise SettingsError(f"GATEWAY_LOG_LEVEL must be one of {', '.join(LOG_LEVELS)}, not {self.log_level!r}")
        if self.metrics_token is not None and not METRICS_TOKEN.fullmatch(self.metrics_token):
            raise SettingsError(
                "GATEWAY_METRICS_TOKEN must be 32 to 256 letters, digits or -._~+/= (e.g. `openssl rand -hex 32`)"
            )
        for origin in self.cors_origins:
            if origin == "*":
                raise SettingsError("GATEWAY_CORS_ORIGINS lists origins one by one; '*' is not allowed")
            if not origin.startswith(("http://", "https://")) or origin.endswith("/"):
                raise SettingsError(
                    f"GATEWAY_CORS_ORIGINS: {origin!r} is not an origin such as https://app.example.com"
                )

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> Settings:
        environment = env.get("GATEWAY_ENV", "development")
        try:
            log_sources = parse_sources(env.get("GATEWAY_LOG_SOURCES", ""))
        except SourceConfigError as error:
            raise SettingsError(str(error)) from None
        return cls(
            log_sources=log_sources,
            log_index_seconds=_seconds(env, "GATEWAY_LOG_INDEX_SECONDS", default=5.0),
            database_url=env.get("DATABASE_URL") or DEFAULT_DATABASE_URL,
            environment=environment,
            cors_origins=tuple(o.strip() for o in env.get("GATEWAY_CORS_ORIGINS", "").split(",") if o.strip()),
            validate_responses=_flag(env, "GATEWAY_VALIDATE_RESPONSES", default=environment == "development"),
            rate_limits=_flag(env, "GATEWAY_RATE_LIMITS", default=True),
            rate_limit_store=env.get("GATEWAY_RATE_LIMIT_STORE") or "database",
            metrics_token=env.get("GATEWAY_METRICS_TOKEN") or None,
            log_format=env.get("GATEWAY_LOG_FORMAT") or ("json" if environment == "production" else "text"),
            log_level=(env.get("GATEWAY_LOG_LEVEL") or "INFO").upper(),
            docs=_flag(env, "GATEWAY_DOCS", default=environment == "development"),
            database_work=env.get("GATEWAY_DATABASE_WORK") or "auto",
            worker_processes=_count(env, "WEB_CONCURRENCY", default=1),
        )


def _seconds(env: Mapping[str, str], name: str, *, default: float) -> float:
    value = env.get(name)
    if value is None or value == "":
        return default
    try:
        seconds = float(value)
    except ValueError:
        raise SettingsError(f"{name} must be a number of seconds, not {value!r}") from None
    if not 0 <= seconds <= 3600:
        raise SettingsError(f"{name} must be between 0 (off) and 3600 seconds")
    return seconds


def _count(env: Mapping[str, str], name: str, *, default: int) -> int:
    value = env.get(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise SettingsError(f"{name} must be a whole number, not {value!r}") from None


def _flag(env: Mapping[str, str], name: str, *, default: bool) -> bool:
    value = env.get(name)
    if value is None or value == "":
        return default
    if value.lower() in ("1", "true", "yes", "on"):
        return True
    if value.lower() in ("0", "false", "no", "off"):
        return False
    raise SettingsError(f"{name} must be true or false, not {value!r}")
