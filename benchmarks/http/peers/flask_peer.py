"""The plain Flask peer: the posts endpoints written the way a tutorial does it (Flask routes, validation by
hand, jsonify), served by gunicorn's sync worker:

    gunicorn --worker-class sync 'benchmarks.http.peers.flask_peer:create_app()'

The database work is Gateway's own (domain.posts, domain.tokens); errors are {"error": ...} with 400 for
a body that breaks the schema."""

from __future__ import annotations

import re
from typing import Any

from flask import Flask, jsonify, request
from flask.typing import ResponseReturnValue

from benchmarks.http.peers import common
from domain import posts
from domain.errors import Conflict, Forbidden, GatewayError, InvalidInput, NotAuthenticated, NotFound
from domain.versions import tag_of

STATUS = {InvalidInput: 400, NotAuthenticated: 401, Forbidden: 403, NotFound: 404, Conflict: 409}
# Used with fullmatch: the spec's patterns end in $, which re.match also finds before a final newline.
TITLE = re.compile(common.TITLE_PATTERN)
BODY = re.compile(common.BODY_PATTERN)
POST_ID = re.compile(common.ID_PATTERN)
CURSOR = re.compile(common.CURSOR_PATTERN)
LIMIT = re.compile(r"[0-9]{1,4}")  # digits only: int() would also take " 5", "+5" and "5_0"


def error(status: int, message: str, headers: dict[str, str] | None = None) -> ResponseReturnValue:
    return jsonify(error=message), status, headers or {}


def post_problems(data: Any) -> list[str]:
    """PostCreate by hand: an object with exactly title and body, both strings within the spec's limits."""
    if not isinstance(data, dict):
        return ["The body must be a JSON object."]
    problems = [f"Unknown field {name!r}." for name in data if name not in common.POST_FIELDS]
    title, body = data.get("title"), data.get("body")
    if not isinstance(title, str):
        problems.append("title is required and must be a string.")
    elif not common.TITLE_MIN_LENGTH <= len(title) <= common.TITLE_MAX_LENGTH:
        problems.append(f"title must have {common.TITLE_MIN_LENGTH} to {common.TITLE_MAX_LENGTH} characters.")
    elif not TITLE.fullmatch(title):
        problems.append("title must not hold control characters.")
    if not isinstance(body, str):
        problems.append("body is required and must be a string.")
    elif len(body) > common.BODY_MAX_LENGTH:
        problems.append(f"body must have at most {common.BODY_MAX_LENGTH} characters.")
    elif not BODY.fullmatch(body):
        problems.append("body must not hold NUL characters.")
    return problems


def with_etag(post: dict[str, Any], status: int, **headers: str) -> ResponseReturnValue:
    # Gateway sends every single post with its ETag: the same hash of the same representation.
    return jsonify(post), status, {"ETag": f'"{tag_of(post)}"', **headers}


def create_app() -> Flask:
    db = common.database()
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = common.MAX_BODY_BYTES  # Flask answers 413 beyond it

    @app.errorhandler(GatewayError)
    def domain_error(failure: GatewayError) -> ResponseReturnValue:
        return error(STATUS.get(type(failure), 500), failure.detail)

    @app.get(f"{common.API}/healthz")
    def health() -> ResponseReturnValue:
        return jsonify(status="alive")

    @app.get(f"{common.API}/posts/<post_id>")
    def get_post(post_id: str) -> ResponseReturnValue:
        if not POST_ID.fullmatch(post_id):
            return error(400, "post_id must be a post's id.")
        return with_etag(posts.get(db, post_id), 200)

    @app.get(f"{common.API}/posts")
    def list_posts() -> ResponseReturnValue:
        raw_limit = request.args.get("limit", str(common.LIMIT_DEFAULT))
        limit = int(raw_limit) if LIMIT.fullmatch(raw_limit) else 0
        if not common.LIMIT_MIN <= limit <= common.LIMIT_MAX:
            return error(400, f"limit must be a whole number from {common.LIMIT_MIN} to {common.LIMIT_MAX}.")
        cursor = request.args.get("cursor")
        if cursor is not None and (len(cursor) > common.CURSOR_MAX_LENGTH or not CURSOR.fullmatch(cursor)):
            return error(400, "cursor is not one this service issued.")
        author_id = request.args.get("author_id")
        if author_id is not None and not POST_ID.fullmatch(author_id):
            return error(400, "author_id must be a user's id.")
        page = posts.list_page(db, author_id=author_id, limit=limit, cursor=cursor)
        return jsonify(items=page.items, next_cursor=page.next_cursor)

    @app.post(f"{common.API}/posts")
    def create_post() -> ResponseReturnValue:
        # Authentication first, as Gateway does: an unauthenticated body is not even read.
        secret = common.bearer_secret(request.headers.get("Authorization"))
        actor = common.caller(db, secret) if secret else None
        if actor is None:
            return error(401, "A valid bearer token is needed.", {"WWW-Authenticate": "Bearer"})
        if common.WRITE_SCOPE not in actor.scopes:
            return error(403, f"The token lacks the {common.WRITE_SCOPE} scope.")
        if not request.is_json:
            return error(415, "The body must be application/json.")
        data = request.get_json(silent=True)
        problems = post_problems(data)
        if problems or not isinstance(data, dict):
            return error(400, " ".join(problems))
        post = posts.create(db, actor, title=data["title"], body=data["body"])
        return with_etag(post, 201, Location=f"{common.API}/posts/{post['id']}")

    return app
