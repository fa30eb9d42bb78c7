"""The four requests every stack answers in the benchmark, each as wrk sends it again and again."""

from __future__ import annotations

import json
from dataclasses import dataclass

from benchmarks.http.peers.common import API, TITLE_MAX_LENGTH

# The fields of the spec's Post schema: every stack must answer a post with exactly these.
POST_FIELDS = frozenset({"id", "author_id", "title", "body", "created_at", "updated_at"})
PAGE_SIZE = 20
VALID_POST = {"title": "Benchmark", "body": "A post written under load: the same few bytes every time."}
# One character over the title's maxLength, with an otherwise fine body: only the schema's limit fails.
INVALID_POST = {"title": "x" * (TITLE_MAX_LENGTH + 1), "body": "Refused."}


@dataclass(frozen=True)
class Endpoint:
    name: str
    method: str
    path: str  # with its query string
    body: str | None
    authenticated: bool
    # Statuses a stack may answer: the spec's for Gateway; a refused body is 400 or 422 depending on the stack.
    expected: frozenset[int]

    @property
    def succeeds(self) -> bool:
        """wrk counts answers above 399 as errors: for the refused create they are the expected ones."""
        return all(status < 400 for status in self.expected)

    def describe(self) -> str:
        return f"{self.method} {self.path}"


def endpoints(post_id: str) -> dict[str, Endpoint]:
    return {
        endpoint.name: endpoint
        for endpoint in (
            Endpoint("get", "GET", f"{API}/posts/{post_id}", None, False, frozenset({200})),
            Endpoint("list", "GET", f"{API}/posts?limit={PAGE_SIZE}", None, False, frozenset({200})),
            Endpoint("create", "POST", f"{API}/posts", json.dumps(VALID_POST), True, frozenset({201})),
            Endpoint("invalid", "POST", f"{API}/posts", json.dumps(INVALID_POST), True, frozenset({400, 422})),
        )
    }


NAMES = ("get", "list", "create", "invalid")
