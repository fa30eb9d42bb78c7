"""A client generated from the spec with openapi-python-client drives a real scenario against the
running server: what a team that generates its client meets, names included."""

from __future__ import annotations

import base64
import importlib
import os
import subprocess
import sys
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import pytest

from tests.servers import BIN, ROOT


@pytest.fixture(scope="module")
def gateway_client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ModuleType]:
    folder = tmp_path_factory.mktemp("generated")
    subprocess.run(
        [BIN / "openapi-python-client", "generate", "--path", ROOT / "spec" / "openapi.yaml",
         "--output-path", folder / "gateway_client", "--meta", "none"],
        cwd=folder,
        env=os.environ | {"PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"},
        check=True,
        capture_output=True,
    )  # fmt: skip
    sys.path.insert(0, str(folder))
    try:
        yield importlib.import_module("gateway_client")
    finally:
        sys.path.remove(str(folder))
        for name in [name for name in sys.modules if name.startswith("gateway_client")]:
            del sys.modules[name]


def api(name: str) -> Any:
    return importlib.import_module(f"gateway_client.{name}")


def test_the_generated_client_reads_naturally(gateway_client: ModuleType) -> None:
    for module in ("api.users.create_user", "api.tokens.create_token", "api.posts.list_posts", "models.user"):
        api(module)
    assert hasattr(api("models"), "Problem")


def test_a_generated_client_signs_up_writes_pages_updates_and_reads_errors(
    gateway_client: ModuleType, live_server: str
) -> None:
    models = api("models")
    public = gateway_client.Client(base_url=live_server)

    created = api("api.users.create_user").sync_detailed(
        client=public, body=models.UserCreate(name="Grace", email="grace@example.com", password="a long password")
    )
    assert created.status_code == 201
    assert created.parsed.email == "grace@example.com"

    credentials = base64.b64encode(b"grace@example.com:a long password").decode()
    with_password = gateway_client.Client(base_url=live_server, headers={"Authorization": f"Basic {credentials}"})
    token = api("api.tokens.create_token").sync(client=with_password, body=models.TokenCreate(name="generated"))
    assert token.token_type == "Bearer"
    grace = gateway_client.AuthenticatedClient(base_url=live_server, token=token.access_token)

    titles = [f"post {n}" for n in range(5)]
    for title in titles:
        posted = api("api.posts.create_post").sync_detailed(client=grace, body=models.PostCreate(title=title, body="x"))
        assert posted.status_code == 201
    pages, cursor = [], None
    while True:
        page = api("api.posts.list_posts").sync(
            client=public, author_id=created.parsed.id, limit=2, **({"cursor": cursor} if cursor else {})
        )
        pages.append([post.title for post in page.items])
        cursor = page.next_cursor
        if not cursor:
            break
    assert [title for page in pages for title in page] == titles[::-1]

    newest = api("api.posts.get_post").sync_detailed(client=public, post_id=page.items[-1].id)
    etag = newest.headers["ETag"]
    update = api("api.posts.update_post")
    changed = update.sync_detailed(
        client=grace, post_id=newest.parsed.id, body=models.PostUpdate(title="v2"), if_match=etag
    )
    stale = update.sync_detailed(
        client=grace, post_id=newest.parsed.id, body=models.PostUpdate(title="v3"), if_match=etag
    )
    assert changed.status_code == 200
    assert changed.parsed.title == "v2"
    assert stale.status_code == 412
    assert isinstance(stale.parsed, models.Problem)

    assert api("api.posts.delete_post").sync_detailed(client=grace, post_id=newest.parsed.id).status_code == 204
    gone = api("api.posts.get_post").sync_detailed(client=public, post_id=newest.parsed.id)
    assert gone.status_code == 404
    assert gone.parsed.title == "Not Found"
