"""The rendered docs, in a real browser: Swagger UI at /api/v1/ui/ and Redoc at /api/v1/docs/ show every
operation of the spec without reaching the internet, and a reader can get a token with "Authorize" and
try a protected operation."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urlsplit

import httpx
import pytest
import yaml
from playwright.sync_api import Page, Route, expect

from tests.browser.conftest import screenshot
from tests.contract.conftest import fresh_database
from tests.servers import ROOT, gateway

SPEC = yaml.safe_load((ROOT / "spec" / "openapi.yaml").read_text(encoding="utf-8"))
OPERATIONS = [
    (operation["tags"][0], operation["operationId"])
    for path_item in SPEC["paths"].values()
    for method, operation in path_item.items()
    if method != "parameters"
]
# Redoc's sidebar footer links to Redocly with a logo from their CDN; offline it is simply not shown.
COSMETIC_EXTERNAL = {"https://cdn.redoc.ly/redoc/logo-mini.svg"}
# Rendering the whole spec takes a few seconds on a busy CI machine; a page that never renders fails.
RENDERING_MS = 60_000


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    database_url = fresh_database(tmp_path_factory.mktemp("docs"))
    with gateway(database_url, tmp_path_factory.mktemp("docs-log") / "server.log") as base:
        yield base


def offline(page: Page, base: str) -> list[str]:
    """Refuse every request that leaves the server, as a machine without internet would; list them."""
    own_origin = "{0.scheme}://{0.netloc}".format(urlsplit(base))
    refused: list[str] = []

    def only_own_origin(route: Route) -> None:
        if route.request.url.startswith(own_origin):
            route.continue_()
        else:
            refused.append(route.request.url)
            route.abort()

    page.route("**/*", only_own_origin)
    return refused


def test_every_operation_appears_in_swagger_ui_offline(page: Page, server: str) -> None:
    refused = offline(page, server)

    page.goto(f"{server}/ui/")
    page.wait_for_selector(".opblock", timeout=RENDERING_MS)

    for tag, operation_id in OPERATIONS:
        expect(page.locator(f"#operations-{tag}-{operation_id}")).to_be_visible()
    assert page.locator(".opblock").count() == len(OPERATIONS)
    screenshot(page, "swagger-ui")
    assert refused == []


def test_every_operation_appears_in_redoc_offline(page: Page, server: str) -> None:
    refused = offline(page, server)

    page.goto(f"{server}/docs/")
    page.wait_for_selector("[data-section-id*='/operation/']", timeout=RENDERING_MS)

    for tag, operation_id in OPERATIONS:
        expect(page.locator(f'[data-section-id="tag/{tag}/operation/{operation_id}"]')).to_be_attached()
    expect(page).to_have_title(f"{SPEC['info']['title']} reference")
    screenshot(page, "redoc")
    assert set(refused) <= COSMETIC_EXTERNAL


def test_a_reader_authorizes_in_swagger_ui_and_writes_a_post(page: Page, server: str) -> None:
    email, password = "reader@example.com", "correct horse battery"
    signed_up = httpx.post(f"{server}/users", json={"name": "Reader", "email": email, "password": password})
    assert signed_up.status_code == 201
    page.goto(f"{server}/ui/")

    page.locator("button.authorize").click()
    oauth = page.locator(".auth-container", has_text="bearerToken")
    oauth.locator("#oauth_username").fill(email)
    oauth.locator("#oauth_password").fill(password)
    oauth.get_by_role("button", name="Authorize").click()
    expect(oauth).to_contain_text("Authorized")
    page.get_by_role("button", name="Close").first.click()

    create_post = page.locator("#operations-posts-createPost")
    create_post.locator(".opblock-summary").click()
    create_post.get_by_role("button", name="Execute").click()

    result = create_post.locator(".live-responses-table")
    expect(result.locator("tbody .response-col_status")).to_have_text("201")
    screenshot(page, "swagger-ui-authorized-create-post")
    author = signed_up.json()["id"]
    posts = httpx.get(f"{server}/posts", params={"author_id": author}).json()["items"]
    example = SPEC["paths"]["/posts"]["post"]["requestBody"]["content"]["application/json"]["example"]
    assert [post["title"] for post in posts] == [example["title"]]


def test_the_docs_work_without_node_at_run_time(server: str) -> None:
    """The Redoc bundle is served by the service itself, from the copy `make` puts beside it."""
    bundle = httpx.get(f"{server}/docs/redoc.standalone.js")

    assert bundle.status_code == 200
    assert bundle.headers["Content-Type"].startswith("text/javascript")
    assert (ROOT / "web" / "static" / "redoc.standalone.js").stat().st_size == len(bundle.content)
