"""Version tags of representations, and the client's expectation about them (If-Match)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from domain.errors import PreconditionFailed


def tag_of(representation: dict[str, Any]) -> str:
    """A strong validator: equal only for byte-for-byte equal representations."""
    canonical = json.dumps(representation, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()[:32]


@dataclass(frozen=True)
class Expected:
    """The tags the client believes current; `any_tag` is `If-Match: *`."""

    tags: frozenset[str] = frozenset()
    any_tag: bool = False

    def check(self, current_tag: str) -> None:
        if not self.any_tag and current_tag not in self.tags:
            raise PreconditionFailed("The resource has changed since you read it. Read it again and retry.")
