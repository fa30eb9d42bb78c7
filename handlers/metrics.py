"""GET /metrics (tagged `health`; handlers.health names it): the Prometheus text format, for a scraper
that sends the operator's GATEWAY_METRICS_TOKEN."""

from __future__ import annotations

import hmac
from typing import Any

from connexion.lifecycle import ConnexionResponse
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4, generate_latest

from web.metrics import metrics, note_pools
from web.services import current


def check_metrics_token(token: str) -> dict[str, Any] | None:
    expected = current().settings.metrics_token
    # Constant time: how much of a guess matched must not show in how long the answer takes.
    if expected is None or not hmac.compare_digest(token.encode(), expected.encode()):
        return None
    return {"sub": "metrics"}


def get_metrics() -> ConnexionResponse:
    note_pools(metrics())
    # A ready response: Connexion would compare the whole Content-Type, version and charset included, with
    # the spec's media type (text/plain), and refuse the one Prometheus scrapers expect.
    return ConnexionResponse(
        status_code=200, content_type=CONTENT_TYPE_PLAIN_0_0_4, body=generate_latest(metrics().collected())
    )
