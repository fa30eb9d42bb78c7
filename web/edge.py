"""The outermost layer of every request, outside Connexion's exception handling so that it sees every
answer, problems included. On the way in: on SQLite the request waits for its turn among those that arrived
with it (web.fairness), then its id (web.requestid) and the app's services (web.services) become current. On the
way out, in the one pass over the answer's headers: the id, the security headers (web.headers) and, for a
deprecated operation, its Deprecation and Sunset headers (web.deprecation). When answered: the metrics
(web.metrics), the access line (web.accesslog) and the client's place in the next turn (web.fairness).

One layer rather than one each: each layer copied the scope and wrapped `send` on every request."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from web import accesslog, crossorigin, requestid
from web import services as serving
from web.deprecation import deprecation_headers
from web.fairness import RoundRobin, client_of
from web.headers import security_headers
from web.metrics import UNMATCHED, RequestCounts, metrics, send_retiring_at_shutdown, watch_pool
from web.threads import Placement


class Edge:
    def __init__(self, app: ASGIApp, *, spec: Mapping[str, Any], services: serving.Services, hsts: bool) -> None:
        self.app = app
        self.services = services
        self.hsts = hsts
        self.operation_ids = accesslog.operation_ids(spec)
        self.deprecations = deprecation_headers(spec)
        self.counts = RequestCounts(metrics())
        watch_pool(services.db, self.counts.metrics)
        # Where requests' reads run on the event loop (SQLite; PostgreSQL's `Placement.EVENT_LOOP`), one pass
        # of the loop starts many requests and the turn orders them; where every request hops to a thread
        # (PostgreSQL's threads), passes are short and the turn cost refusals a fifth of their rate
        # (web.fairness).
        on_the_loop = services.workers.placement in (Placement.SQLITE, Placement.EVENT_LOOP)
        self.round_robin = RoundRobin() if on_the_loop else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send_retiring_at_shutdown(send) if scope["type"] == "lifespan" else send)
            return
        client = client_of(scope)
        if self.round_robin is not None:
            await self.round_robin.turn(client)  # web.fairness: in a pass of the loop, the longest unanswered first
        request_id = requestid.request_id_of(scope)
        # Routing records the operation, and the security check the caller, in these two dicts. Connexion
        # passes copies of the scope (and of its extensions) inward; made here, the dicts are shared by all.
        extensions: dict[str, Any] = dict(scope.get("extensions") or {})
        routing: dict[str, Any] = extensions.setdefault("connexion_routing", {})
        context: dict[str, Any] = extensions.setdefault("connexion_context", {})
        scope = {**scope, "extensions": extensions}
        authenticated = any(name == b"authorization" for name, _ in scope["headers"])
        # A request with an Origin header gets its Vary from web.crossorigin; the others get it here.
        vary_origin = not crossorigin.has_origin(scope["headers"])
        status = 500  # unless an answer starts: an error that escaped every handler

        async def send_answer(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = self.answer_headers(
                    message.get("headers", []), request_id, authenticated, routing, vary_origin=vary_origin
                )
                message = {**message, "headers": headers}
            await send(message)

        id_token = requestid.enter(request_id)
        services_token = serving.enter(self.services)
        started = time.perf_counter()
        self.counts.started()
        try:
            await self.app(scope, receive, send_answer)
        finally:
            answered = time.perf_counter()
            if self.round_robin is not None:
                self.round_robin.answered(client, answered)
            seconds = answered - started
            routed = routing.get("operation_id")
            operation_id = self.operation_ids.get(routed, routed) if routed else None
            self.counts.answered(operation_id or UNMATCHED, status, seconds)
            accesslog.write(scope, operation_id, status, seconds * 1000, context.get("user"))
            serving.leave(services_token)
            requestid.leave(id_token)

    def answer_headers(
        self,
        headers: list[tuple[bytes, bytes]],
        request_id: str,
        authenticated: bool,
        routing: Mapping[str, Any],
        *,
        vary_origin: bool,
    ) -> list[tuple[bytes, bytes]]:
        kept: list[tuple[bytes, bytes]] = []
        present: set[bytes] = set()
        varies: list[bytes] = []
        content_type = b""
        for name, value in headers:
            lower = name.lower()
            if lower == requestid.HEADER:
                continue  # the request's own id, never one a handler made up
            if vary_origin and lower == crossorigin.VARY:
                varies.append(value)
                continue
            if lower == b"content-type":
                content_type = value
            present.add(lower)
            kept.append((name, value))
        if vary_origin:
            kept.append(crossorigin.vary_on_origin(varies))
        kept.append((requestid.HEADER, request_id.encode("ascii")))
        kept += security_headers(present, content_type, authenticated=authenticated, hsts=self.hsts)
        kept += self.deprecations.get(routing.get("operation_id") or "", [])
        return kept
