"""The FastAPI peer: the posts endpoints with pydantic models for the body, the parameters and the answers,
a dependency for the bearer token, served by uvicorn:

    uvicorn --factory benchmarks.http.peers.fastapi_peer:create_app

Handlers and the token dependency are plain `def`s, as FastAPI advises for blocking work (the SQLAlchemy
session): FastAPI runs them in its thread pool, as Gateway runs its handlers and token check. The
database work is Gateway's own (domain.posts, domain.tokens); a body that breaks the schema gets FastAPI's
422, and the rendered docs are off as in Gateway's production settings."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Path, Query, Request, Response
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, StringConstraints

from benchmarks.http.peers import common
from domain import posts
from domain.access import Actor
from domain.errors import Conflict, Forbidden, GatewayError, InvalidInput, NotAuthenticated, NotFound
from domain.versions import tag_of
from storage.db import Database

STATUS = {InvalidInput: 400, NotAuthenticated: 401, Forbidden: 403, NotFound: 404, Conflict: 409}

Title = Annotated[
    str,
    StringConstraints(
        min_length=common.TITLE_MIN_LENGTH, max_length=common.TITLE_MAX_LENGTH, pattern=common.TITLE_PATTERN
    ),
]
Body = Annotated[str, StringConstraints(max_length=common.BODY_MAX_LENGTH, pattern=common.BODY_PATTERN)]
Id = Annotated[str, Path(pattern=common.ID_PATTERN)]


class PostCreate(BaseModel):
    # strict: JSON strings only, as the schema's `type: string`; forbid: its additionalProperties: false.
    model_config = ConfigDict(extra="forbid", strict=True)

    title: Title
    body: Body


class Post(BaseModel):
    id: str
    author_id: str
    title: str
    body: str
    created_at: str
    updated_at: str


class PostPage(BaseModel):
    items: list[Post]
    next_cursor: str | None


class Health(BaseModel):
    status: str


def etag(post: dict[str, Any]) -> str:
    # Gateway sends every single post with its ETag: the same hash of the same representation.
    return f'"{tag_of(post)}"'


async def database(request: Request) -> Database:
    # async: a dependency that only reads app.state needs no trip through the thread pool.
    db: Database = request.app.state.db
    return db


# Module-level names: with postponed annotations FastAPI resolves `Depends(...)` in this module's globals,
# so a dependency defined inside create_app would not be found (the parameter becomes a query parameter).
Db = Annotated[Database, Depends(database)]
bearer = HTTPBearer(auto_error=False)


def writer(db: Db, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]) -> Actor:
    """The caller behind the bearer token, who must hold posts:write (Gateway's 401 and 403)."""
    unauthenticated = HTTPException(401, "A valid bearer token is needed.", {"WWW-Authenticate": "Bearer"})
    if credentials is None:
        raise unauthenticated
    actor = common.caller(db, credentials.credentials)
    if actor is None:
        raise unauthenticated
    if common.WRITE_SCOPE not in actor.scopes:
        raise HTTPException(403, f"The token lacks the {common.WRITE_SCOPE} scope.")
    return actor


router = APIRouter(prefix=common.API)


@router.get("/healthz", response_model=Health)
def health() -> dict[str, str]:
    return {"status": "alive"}


@router.get("/posts/{post_id}", response_model=Post)
def get_post(post_id: Id, db: Db, response: Response) -> dict[str, Any]:
    post = posts.get(db, post_id)
    response.headers["ETag"] = etag(post)
    return post


@router.get("/posts", response_model=PostPage)
def list_posts(
    db: Db,
    limit: Annotated[int, Query(ge=common.LIMIT_MIN, le=common.LIMIT_MAX)] = common.LIMIT_DEFAULT,
    cursor: Annotated[
        str | None, Query(min_length=1, max_length=common.CURSOR_MAX_LENGTH, pattern=common.CURSOR_PATTERN)
    ] = None,
    author_id: Annotated[str | None, Query(pattern=common.ID_PATTERN)] = None,
) -> dict[str, Any]:
    page = posts.list_page(db, author_id=author_id, limit=limit, cursor=cursor)
    return {"items": page.items, "next_cursor": page.next_cursor}


@router.post("/posts", response_model=Post, status_code=201)
def create_post(
    new: PostCreate, db: Db, actor: Annotated[Actor, Depends(writer)], response: Response
) -> dict[str, Any]:
    post = posts.create(db, actor, title=new.title, body=new.body)
    response.headers["ETag"] = etag(post)
    response.headers["Location"] = f"{common.API}/posts/{post['id']}"
    return post


async def domain_error(_request: Request, failure: Exception) -> JSONResponse:
    """Domain errors (a post that does not exist, say) as FastAPI answers errors: {"detail": ...}."""
    if not isinstance(failure, GatewayError):  # registered for GatewayError only
        raise failure
    return JSONResponse({"detail": failure.detail}, STATUS.get(type(failure), 500))


def create_app() -> FastAPI:
    app = FastAPI(title="FastAPI peer", docs_url=None, redoc_url=None)
    app.state.db = common.database()
    app.include_router(router)
    app.add_exception_handler(GatewayError, domain_error)
    return app
