"""What the server acknowledged, and an audit of the database against it.

Clients that write through a `Recorder` leave a note of every write in a shared `Ledger`: acknowledged
(a 2xx, with the representation and ETag it carried), refused (any other status: it must have changed
nothing), unsent (no connection could be made: it reached no server) or uncertain (the request may
have reached the server but no answer came: it may or may not have happened). Every write sets a title no
other write uses, which is how the audit recognises it in the database.

`audit` reads the tables directly. A post's expected state is the end of its chain of acknowledged
writes, each sent with If-Match on the version the one before produced; two acknowledged writes on
one version mean one of them was lost. Every acknowledged write must be there exactly as acknowledged,
nothing nobody acknowledged may be, and every row must keep the schema's own rules. Used by
`make load` (benchmarks/load.py) and by the fault tests."""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, Literal

import httpx
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from domain import posts as post_rules
from storage.db import normalise_url
from storage.models import PostRow, TokenRow, UserRow

Kind = Literal["create", "patch", "put", "delete"]
Outcome = Literal["acknowledged", "refused", "unsent", "uncertain"]
# Failures that leave the request unsent: there was no connection to send it on.
UNSENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
PASSWORD = "load and fault password"  # noqa: S105 - accounts of a throwaway database


@dataclass(frozen=True, eq=False)
class Write:
    kind: Kind
    title: str  # unique to this write; empty for a delete
    post_id: str | None  # unknown for a create whose answer was lost
    if_match: str | None  # the version it was conditioned on (the ETag without its quotes)
    outcome: Outcome
    status: int | None = None
    representation: dict[str, Any] | None = None  # the post as the server answered it
    etag: str | None = None


@dataclass(frozen=True)
class Timing:
    operation: str
    status: int | None  # None: no answer came
    seconds: float


@dataclass(frozen=True)
class Account:
    id: str
    email: str
    token: str


class Ledger:
    """Shared by every client thread of a run."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._serial = itertools.count(1)
        self.writes: list[Write] = []
        self.accounts: dict[str, dict[str, Any]] = {}  # user id: the acknowledged sign-up
        self.tokens: set[str] = set()
        self.uncertain_emails: set[str] = set()
        self.uncertain_token_names: set[str] = set()
        self.served_titles: set[str] = set()  # titles some read returned: those writes happened

    def unique(self, what: str) -> str:
        with self._lock:
            return f"{what} {next(self._serial)}"

    def note(self, write: Write) -> None:
        with self._lock:
            self.writes.append(write)

    def saw(self, posts: list[dict[str, Any]]) -> None:
        with self._lock:
            self.served_titles.update(post["title"] for post in posts)

    def acknowledged(self) -> int:
        with self._lock:
            return sum(write.outcome == "acknowledged" for write in self.writes)


def unquote(etag: str) -> str:
    return etag.strip('"')


class Recorder:
    """One client: its own connection, every call timed, every write noted in the ledger."""

    def __init__(self, base: str, ledger: Ledger, *, timeout: float = 30, keep_alive: bool = True) -> None:
        self.ledger = ledger
        limits = httpx.Limits() if keep_alive else httpx.Limits(max_keepalive_connections=0)
        self.http = httpx.Client(base_url=base, timeout=timeout, limits=limits)
        self.timings: list[Timing] = []
        self.auth: dict[str, str] = {}
        self.last_unsent = False  # whether the last call without an answer never left this client

    def close(self) -> None:
        self.http.close()

    def call(self, operation: str, method: str, path: str, **options: Any) -> httpx.Response | None:
        began = time.perf_counter()
        try:
            response = self.http.request(method, path, **options)
        except httpx.TransportError as error:
            self.last_unsent = isinstance(error, UNSENT)
            self.timings.append(Timing(operation, None, time.perf_counter() - began))
            return None
        self.timings.append(Timing(operation, response.status_code, time.perf_counter() - began))
        return response

    def sign_up(self) -> Account:
        """A new account and a token for it; the run cannot go on without them, so failing raises."""
        name = self.ledger.unique("user")
        email = name.replace(" ", "-") + "@example.com"
        created = self.call("sign up", "POST", "/users", json={"name": name, "email": email, "password": PASSWORD})
        if created is None and not self.last_unsent:
            self.ledger.uncertain_emails.add(email)
        if created is None or created.status_code != 201:
            raise RuntimeError(f"sign-up failed: {created and created.text}")
        self.ledger.accounts[created.json()["id"]] = created.json()
        token_name = self.ledger.unique("token")
        issued = self.call("get a token", "POST", "/tokens", json={"name": token_name}, auth=(email, PASSWORD))
        if issued is None and not self.last_unsent:
            self.ledger.uncertain_token_names.add(token_name)
        if issued is None or issued.status_code != 201:
            raise RuntimeError(f"token refused: {issued and issued.text}")
        self.ledger.tokens.add(issued.json()["id"])
        return Account(created.json()["id"], email, issued.json()["access_token"])

    def use(self, account: Account) -> None:
        self.auth = {"Authorization": f"Bearer {account.token}"}

    def _note(self, kind: Kind, title: str, post_id: str | None, if_match: str | None, response: httpx.Response | None,
              acknowledged: int) -> None:  # fmt: skip
        if response is None:
            self.ledger.note(Write(kind, title, post_id, if_match, "unsent" if self.last_unsent else "uncertain"))
        elif response.status_code == acknowledged:
            answer = response.json() if kind != "delete" else None
            etag = unquote(response.headers["ETag"]) if answer is not None else None
            post_id = answer["id"] if answer is not None else post_id
            self.ledger.note(Write(kind, title, post_id, if_match, "acknowledged", response.status_code, answer, etag))
        else:
            self.ledger.note(Write(kind, title, post_id, if_match, "refused", response.status_code))

    def create_post(self, body: str = "") -> httpx.Response | None:
        title = self.ledger.unique("post")
        payload = {"title": title, "body": body or f"written as {title}"}
        response = self.call("create", "POST", "/posts", json=payload, headers=self.auth)
        self._note("create", title, None, None, response, 201)
        return response

    def change_post(
        self, kind: Literal["patch", "put"], post_id: str, etag: str, body: str = ""
    ) -> httpx.Response | None:
        """PATCH (a merge patch of the title, and of the body when one is given) or PUT, with If-Match."""
        title = self.ledger.unique(kind)
        headers = self.auth | {"If-Match": f'"{etag}"'}
        if kind == "patch":
            patch = {"title": title} | ({"body": body} if body else {})
            headers["Content-Type"] = "application/merge-patch+json"
            response = self.call(kind, "PATCH", f"/posts/{post_id}", content=json.dumps(patch), headers=headers)
        else:
            replacement = {"title": title, "body": body or f"replaced as {title}"}
            response = self.call(kind, "PUT", f"/posts/{post_id}", json=replacement, headers=headers)
        self._note(kind, title, post_id, etag, response, 200)
        return response

    def delete_post(self, post_id: str, etag: str) -> httpx.Response | None:
        response = self.call("delete", "DELETE", f"/posts/{post_id}", headers=self.auth | {"If-Match": f'"{etag}"'})
        self._note("delete", "", post_id, etag, response, 204)
        return response

    def get_post(self, post_id: str, if_none_match: str | None = None) -> httpx.Response | None:
        headers = {"If-None-Match": f'"{if_none_match}"'} if if_none_match else {}
        response = self.call("get", "GET", f"/posts/{post_id}", headers=headers)
        if response is not None and response.status_code == 200:
            self.ledger.saw([response.json()])
        return response

    def list_posts(self, params: dict[str, str | int]) -> httpx.Response | None:
        response = self.call("list", "GET", "/posts", params=params)
        if response is not None and response.status_code == 200:
            self.ledger.saw(response.json()["items"])
        return response


@dataclass
class Findings:
    posts_present: int = 0
    posts_deleted: int = 0
    lost: list[str] = field(default_factory=list)  # acknowledged, but not in the database as acknowledged
    extra: list[str] = field(default_factory=list)  # in the database, but never acknowledged
    broken: list[str] = field(default_factory=list)  # rows that break the schema's own rules
    # Writes whose answer was lost, by what the database and the reads tell of them.
    uncertain_applied: int = 0
    uncertain_not_applied: int = 0
    uncertain_unknown: int = 0

    @property
    def clean(self) -> bool:
        return not (self.lost or self.extra or self.broken)


def audit(ledger: Ledger, database_url: str) -> Findings:
    engine = create_engine(normalise_url(database_url))
    try:
        with Session(engine) as session:
            users = {row.id: row for row in session.scalars(select(UserRow))}
            tokens = {row.id: row for row in session.scalars(select(TokenRow))}
            posts = {row.id: row for row in session.scalars(select(PostRow))}
            findings = Findings()
            _audit_accounts(ledger, users, tokens, findings)
            for row in posts.values():
                _check_rules(row, users, findings)
            _audit_posts(ledger, posts, findings)
    finally:
        engine.dispose()
    return findings


def _audit_accounts(ledger: Ledger, users: dict[str, UserRow], tokens: dict[str, TokenRow], findings: Findings) -> None:
    for user_id, answer in ledger.accounts.items():
        row = users.get(user_id)
        if row is None or (row.name, row.email) != (answer["name"], answer["email"]):
            findings.lost.append(f"account {user_id} ({answer['email']}) is not as its sign-up was acknowledged")
    for row in users.values():
        if row.id in ledger.accounts:
            continue
        if row.email in ledger.uncertain_emails:
            findings.uncertain_applied += 1
        else:
            findings.extra.append(f"account {row.id} ({row.email}) was never acknowledged")
    findings.uncertain_not_applied += len(ledger.uncertain_emails - {row.email for row in users.values()})
    findings.lost += [f"token {token_id} was acknowledged but is missing" for token_id in ledger.tokens - tokens.keys()]
    for token in tokens.values():
        if token.id in ledger.tokens:
            continue
        if token.name in ledger.uncertain_token_names:
            findings.uncertain_applied += 1
        else:
            findings.extra.append(f"token {token.id} ({token.name}) was never acknowledged")


def _check_rules(row: PostRow, users: dict[str, UserRow], findings: Findings) -> None:
    problems = []
    if row.author_id not in users:
        problems.append(f"its author {row.author_id} does not exist")
    if not row.title:
        problems.append("it has no title")
    if row.version is None or row.version < 1:
        problems.append(f"version {row.version}")
    if row.created_at is None or row.updated_at is None or row.updated_at < row.created_at:
        problems.append(f"created {row.created_at}, updated {row.updated_at}")
    if problems:
        findings.broken.append(f"post {row.id}: " + "; ".join(problems))


def _audit_posts(ledger: Ledger, rows: dict[str, PostRow], findings: Findings) -> None:
    created: dict[str, Write] = {}
    later: dict[str, list[Write]] = defaultdict(list)
    for write in ledger.writes:
        if write.kind == "create" and write.outcome == "acknowledged" and write.post_id is not None:
            created[write.post_id] = write
        elif write.kind != "create" and write.post_id is not None:
            later[write.post_id].append(write)
    refused = {w.title: w for w in ledger.writes if w.outcome in ("refused", "unsent") and w.title}
    for post_id, create in created.items():
        _audit_post(create, later.pop(post_id, []), rows.pop(post_id, None), ledger.served_titles, refused, findings)
    for post_id, writes in later.items():
        if any(write.outcome == "acknowledged" for write in writes):
            findings.extra.append(f"post {post_id}: writes acknowledged on a post nobody was told was created")
    # What is left in the database was created by no acknowledged write: a create whose answer was lost,
    # which nobody else could know the id of, or something that should not be there.
    uncertain_creates = {w.title for w in ledger.writes if w.kind == "create" and w.outcome == "uncertain"}
    for row in rows.values():
        if row.title in uncertain_creates:
            findings.uncertain_applied += 1
            findings.posts_present += 1
        else:
            why = f" (its create was {_refusal(refused[row.title])})" if row.title in refused else ""
            findings.extra.append(f"post {row.id} {row.title!r} was never acknowledged{why}")
    findings.uncertain_not_applied += len(uncertain_creates - {row.title for row in rows.values()})


def _audit_post(create: Write, writes: list[Write], row: PostRow | None, served: set[str],
                refused: dict[str, Write], findings: Findings) -> None:  # fmt: skip
    post_id = create.post_id
    acknowledged = [write for write in writes if write.outcome == "acknowledged"]
    uncertain = [write for write in writes if write.outcome == "uncertain"]
    following: dict[str | None, list[Write]] = defaultdict(list)
    for write in acknowledged:
        following[write.if_match].append(write)
    for rivals in following.values():
        if len(rivals) > 1:
            titles = ", ".join(repr(write.title or "delete") for write in rivals)
            findings.lost.append(f"post {post_id}: {len(rivals)} writes acknowledged on one version ({titles})")
    chain = [create]
    while chain[-1].kind != "delete" and following.get(chain[-1].etag) and following[chain[-1].etag][0] not in chain:
        chain.append(following[chain[-1].etag][0])
    expected = chain[-1].representation
    actual = post_rules.view(row) if row is not None else None
    if actual is None:
        findings.posts_deleted += 1
    else:
        findings.posts_present += 1
    if not uncertain:
        if actual != expected:
            findings.lost.append(_difference(post_id, expected, actual, refused))
        elif row is not None and row.version != len(chain):
            findings.broken.append(f"post {post_id}: version {row.version} after {len(chain) - 1} acknowledged changes")
        off_chain = [write for write in acknowledged if write not in chain]
        if off_chain:
            findings.extra.append(f"post {post_id}: {len(off_chain)} writes acknowledged on versions nobody made")
        return
    # Some answers were lost. The post ends as the last acknowledged state (one no acknowledged write
    # followed) or as the work of a write whose answer was lost.
    endings = [w.representation for w in [create, *acknowledged] if w.kind != "delete" and not following.get(w.etag)]
    deleted_by_acknowledged = any(write.kind == "delete" for write in acknowledged)
    uncertain_titles = {write.title for write in uncertain if write.title}
    if actual is None:
        possible = deleted_by_acknowledged or any(write.kind == "delete" for write in uncertain)
    else:
        possible = actual in endings or actual["title"] in uncertain_titles
    if not possible:
        findings.lost.append(_difference(post_id, expected, actual, refused))
    # Every write names the version it replaces (If-Match), and a version's ETag reaches a client only
    # in the answer to the write that made it or in a read. So a change that happened is the final
    # state or was read before it was replaced: one that is neither did not happen.
    uncertain_deletes = [write for write in uncertain if write.kind == "delete"]
    for write in uncertain:
        if write.kind == "delete" and len(uncertain_deletes) > 1 and actual is None and not deleted_by_acknowledged:
            findings.uncertain_unknown += 1  # one of them did it; which one, nothing tells
            continue
        if write.kind == "delete":
            happened = actual is None and not deleted_by_acknowledged
        else:
            happened = write.title in served or (actual is not None and actual["title"] == write.title)
        if happened and write.if_match in following:
            findings.lost.append(f"post {post_id}: {write.title!r} happened, and so did a write on the same version")
        if happened:
            findings.uncertain_applied += 1
        else:
            findings.uncertain_not_applied += 1


def _difference(post_id: str | None, expected: dict[str, Any] | None, actual: dict[str, Any] | None,
                refused: dict[str, Write]) -> str:  # fmt: skip
    if expected is None:
        return f"post {post_id}: its deletion was acknowledged, but it is there as {actual}"
    if actual is None:
        return f"post {post_id}: acknowledged as {expected['title']!r}, but it is gone"
    if actual["title"] in refused:
        return f"post {post_id}: holds {actual['title']!r}, which was {_refusal(refused[actual['title']])}"
    fields = ", ".join(f"{name} {actual[name]!r:.60} instead of {value!r:.60}" for name, value in expected.items()
                       if actual[name] != value)  # fmt: skip
    return f"post {post_id}: acknowledged as {expected['title']!r}, but the database holds {fields}"


def _refusal(write: Write) -> str:
    return f"refused with {write.status}" if write.status is not None else "never sent (no connection)"
