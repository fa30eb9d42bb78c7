"""The example frontend (clients/web) in a real browser, the way a frontend team meets the API.

The page is served from an origin of its own, http://localhost:<port>, and calls the API at
http://127.0.0.1:<port>: every call crosses origins, so CORS, the Authorization header and the client
generated from the spec are proven together. Assertions read what a user sees."""

from __future__ import annotations

import functools
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import screenshot
from tests.contract.conftest import fresh_database
from tests.servers import ROOT, gateway

WEB = ROOT / "clients" / "web"
# As the header of clients/web/app.ts says, into a folder of this test's own.
BUILD: list[str | Path] = [
    ROOT / "node_modules" / ".bin" / "esbuild", WEB / "app.ts", WEB / "index.html",
    "--bundle", "--format=esm", "--loader:.html=copy",
]  # fmt: skip
ADA = {"name": "Ada Lovelace", "email": "ada@example.com", "password": "correct horse battery"}
GRACE = {"name": "Grace Hopper", "email": "grace@example.com", "password": "a ship in port is safe"}


class QuietFiles(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def serving(directory: Path) -> Iterator[str]:
    """The files of `directory` over HTTP; yields the origin, http://localhost:<port>."""
    with ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(QuietFiles, directory=str(directory))) as server:
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield f"http://localhost:{server.server_port}"
        finally:
            server.shutdown()
            thread.join()


@pytest.fixture(scope="module")
def frontend(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The page, bundled by esbuild, on an origin other than the API's."""
    built = tmp_path_factory.mktemp("web")
    subprocess.run([*BUILD, f"--outdir={built}"], cwd=ROOT, check=True, capture_output=True)
    with serving(built) as origin:
        yield origin


@pytest.fixture(scope="module")
def database(tmp_path_factory: pytest.TempPathFactory) -> str:
    """Migrated once, shared: the test the API refuses writes nothing."""
    return fresh_database(tmp_path_factory.mktemp("database"))


def open_page(page: Page, frontend: str, api: str) -> None:
    page.goto(f"{frontend}/?{urlencode({'api': api})}")


def sign_up(page: Page, name: str, email: str, password: str) -> None:
    form = page.get_by_role("form", name="Sign up")
    form.get_by_label("Name").fill(name)
    form.get_by_label("Email").fill(email)
    form.get_by_label("Password").fill(password)
    form.get_by_role("button", name="Sign up").click()


def sign_in(page: Page, email: str, password: str) -> None:
    form = page.get_by_role("form", name="Sign in")
    form.get_by_label("Email").fill(email)
    form.get_by_label("Password").fill(password)
    form.get_by_role("button", name="Sign in").click()


def publish(page: Page, title: str, text: str) -> None:
    form = page.get_by_role("form", name="Write a post")
    form.get_by_label("Title").fill(title)
    form.get_by_label("Text").fill(text)
    form.get_by_role("button", name="Publish").click()


def test_a_frontend_on_another_origin_signs_up_gets_a_token_and_writes_posts(
    page: Page, frontend: str, database: str, tmp_path: Path
) -> None:
    with gateway(database, tmp_path / "server.log", {"GATEWAY_CORS_ORIGINS": frontend}) as api:
        open_page(page, frontend, api)
        status, alert = page.get_by_role("status"), page.get_by_role("alert")
        expect(page.get_by_text("No posts yet.")).to_be_visible()
        expect(page.get_by_role("button", name="Publish")).to_be_disabled()

        sign_up(page, **ADA)
        expect(status).to_have_text("Welcome, Ada Lovelace. Sign in to get a token.")
        sign_up(page, **ADA)
        expect(alert).to_have_text("Signing up failed: Conflict. Another account already uses this email.")
        screenshot(page, "frontend-sign-up-conflict")

        sign_in(page, ADA["email"], ADA["password"])
        expect(status).to_have_text("Signed in as ada@example.com. Your token is valid for 60 minutes.")
        expect(alert).to_be_hidden()
        publish(page, "First post", "Written from another origin.")
        expect(status).to_have_text("Published “First post”.")
        publish(page, "Second post", "With the same token.")
        expect(status).to_have_text("Published “Second post”.")
        posts = page.get_by_role("list", name="Posts, newest first")
        expect(posts.get_by_role("heading")).to_have_text(["Second post", "First post"])
        expect(posts).to_contain_text("Written from another origin.")
        expect(page.get_by_text("No posts yet.")).to_be_hidden()
        screenshot(page, "frontend-posts")

        publish(page, "x" * 201, "A title over the spec's maxLength of 200.")
        expect(alert).to_have_text(
            "Publishing failed: Bad Request. The body field 'title' must have at most 200 characters."
        )
        expect(posts.get_by_role("heading")).to_have_count(2)
        screenshot(page, "frontend-bad-request")


def test_a_frontend_on_an_origin_the_api_does_not_list_gets_no_answer(
    page: Page, frontend: str, database: str, tmp_path: Path
) -> None:
    with gateway(database, tmp_path / "server.log", {"GATEWAY_CORS_ORIGINS": "https://app.example.com"}) as api:
        # The API answers whoever asks; it is the browser that withholds the answer from the page.
        answer = httpx.get(f"{api}/posts", headers={"Origin": frontend})
        assert answer.status_code == 200
        assert "access-control-allow-origin" not in answer.headers

        open_page(page, frontend, api)
        sign_up(page, **GRACE)
        expect(page.get_by_role("alert")).to_have_text(
            "Signing up failed: network error. "
            f"The API at {api} could not be reached, or it does not accept requests from {frontend}."
        )
        screenshot(page, "frontend-cors-refused")
        # The browser's preflight was refused, so the sign-up itself was never sent.
        names = [user["name"] for user in httpx.get(f"{api}/users").json()["items"]]
        assert GRACE["name"] not in names
