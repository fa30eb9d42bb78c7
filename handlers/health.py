"""Operations tagged `health`: liveness and readiness, for orchestrators and load balancers."""

from __future__ import annotations

from domain.errors import Unavailable
from handlers.http import JSON, Response, services
from handlers.metrics import get_metrics as get_metrics  # the resolver finds each tag's operations here
from storage.migrate import current_revision, head_revision

EXPECTED_MIGRATION = head_revision()


def get_health() -> Response:
    return {"status": "alive"}, 200, dict(JSON)


def get_readiness() -> Response:
    migration = current_revision(services().db)  # a database that cannot be reached answers 503
    if migration != EXPECTED_MIGRATION:
        raise Unavailable(f"The database is at migration {migration}; this build needs {EXPECTED_MIGRATION}.")
    return {"status": "ready", "migration": migration}, 200, dict(JSON)
