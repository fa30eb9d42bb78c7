"""The versioning policy (spec/compat.py), proven on the real spec: a copy released as it stands, then
changed the ways a release can change it. A break fails unless the major version goes up; an addition
needs a new minor version, a change of wording a new patch version."""

from __future__ import annotations

import copy
import dataclasses
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import yaml

from spec import compat

ROOT = Path(__file__).resolve().parents[2]
SPEC = ROOT / "spec" / "openapi.yaml"
SPEC_TEXT = SPEC.read_text(encoding="utf-8")
CURRENT: dict[str, Any] = yaml.safe_load(SPEC_TEXT)
VERSION = compat.parse_version(CURRENT["info"]["version"])
MAJOR, MINOR, PATCH = VERSION
TAG = {"name": "tag", "in": "query", "required": True, "schema": {"type": "string", "maxLength": 20}}


@dataclasses.dataclass(frozen=True)
class Kind:
    """A change to the spec, and what the check must say about it."""

    name: str
    apply: Callable[[dict[str, Any]], object]
    named: str

    def __str__(self) -> str:
        return self.name


def schemas(spec: dict[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = spec["components"]["schemas"]
    return found


def remove_response_field(spec: dict[str, Any]) -> None:
    post = schemas(spec)["Post"]
    del post["properties"]["updated_at"]
    post["required"].remove("updated_at")


def halve_title_length(spec: dict[str, Any]) -> None:
    schemas(spec)["Title"]["maxLength"] //= 2


def require_new_request_field(spec: dict[str, Any]) -> None:
    post = schemas(spec)["PostCreate"]
    post["properties"]["tag"] = {"type": "string", "maxLength": 20}
    post["required"].append("tag")


TITLE_LENGTH = schemas(CURRENT)["Title"]["maxLength"]
BREAKS = [
    Kind("removed operation", lambda spec: spec["paths"]["/tokens/{token_id}"].pop("delete"),
         "DELETE /tokens/{token_id}: cannot remove an operation"),
    Kind("removed response field", remove_response_field,
         "GET /posts/{post_id} response 200 response body: application/json property updated_at"),
    Kind("string maxLength lowered", halve_title_length,
         f"POST /posts request body (application/json) field 'title': maxLength lowered from {TITLE_LENGTH} "
         f"to {TITLE_LENGTH // 2}"),
    Kind("enum value removed from a request field", lambda spec: schemas(spec)["Scope"]["enum"].remove("logs:read"),
         "POST /tokens request body (application/json) field 'scopes[]': enum values removed: logs:read"),
    Kind("enum value removed from a parameter",
         lambda spec: spec["paths"]["/logs/{source}/stats"]["get"]["parameters"][0]["schema"]["enum"].remove("6h"),
         "cannot remove enum option '6h' from query parameter 'interval'"),
    Kind("integer parameter now a string", lambda spec: spec["components"]["parameters"]["Limit"]["schema"].update(
         type="string", maxLength=3), "GET /users query parameter: limit: expected query parameter 'limit' not be "
         "narrowed"),
    Kind("integer response field now a string", lambda spec: schemas(spec)["LogStats"]["properties"]["undated"].update(
         type="string", maxLength=20), "expected response body property 'undated' not to be expanded"),
    Kind("new required parameter", lambda spec: spec["paths"]["/posts"]["get"]["parameters"].append(TAG),
         "GET /posts query parameter: tag: cannot add required query parameter tag to an existing operation"),
    Kind("new required request field", require_new_request_field,
         "cannot add a required request property 'tag' to an existing operation"),
]  # fmt: skip
ADDITIONS = [
    Kind("new optional request field",
         lambda spec: schemas(spec)["PostCreate"]["properties"].update(tag={"type": "string", "maxLength": 20}), ""),
    Kind("new operation", lambda spec: spec["paths"]["/tokens"].update(delete={
         **copy.deepcopy(spec["paths"]["/tokens/{token_id}"]["delete"]), "operationId": "deleteAllTokens"}), ""),
    # Its required fields are not new required fields: a client keeps sending JSON (Optic says otherwise).
    Kind("new request media type", lambda spec: spec["paths"]["/posts"]["post"]["requestBody"]["content"].update({
         "application/x-www-form-urlencoded": {"schema": {"$ref": "#/components/schemas/PostCreate"}}}), ""),
]  # fmt: skip


CASES: dict[str, tuple[tuple[Kind, ...], compat.Version]] = {
    **{kind.name: ((kind,), VERSION) for kind in BREAKS},
    "every break": (tuple(BREAKS), (MAJOR + 1, 0, 0)),
    **{kind.name: ((kind,), (MAJOR, MINOR + 1, 0)) for kind in ADDITIONS},
}


def release(folder: Path) -> Path:
    """The current spec, released under its own version."""
    released = folder / "released"
    released.mkdir()
    (released / f"{compat.show(VERSION)}.yaml").write_text(SPEC_TEXT, encoding="utf-8")
    return released


def changed(folder: Path, *kinds: Kind, version: compat.Version = VERSION) -> Path:
    spec = copy.deepcopy(CURRENT)
    for kind in kinds:
        kind.apply(spec)
    spec["info"]["version"] = compat.show(version)
    path = folder / "openapi.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def verdicts(tmp_path_factory: pytest.TempPathFactory) -> dict[str, compat.Verdict]:
    """Optic takes seconds per comparison: the comparisons of CASES, made side by side."""

    cases = []
    for kinds, version in CASES.values():
        folder = tmp_path_factory.mktemp("case")
        cases.append((changed(folder, *kinds, version=version), release(folder)))
    with ThreadPoolExecutor(max_workers=os.cpu_count()) as pool:
        return dict(zip(CASES, pool.map(compat.check, *zip(*cases, strict=True)), strict=True))


@pytest.fixture
def released(tmp_path: Path) -> Path:
    return release(tmp_path)


@pytest.mark.parametrize("kind", BREAKS, ids=str)
def test_a_break_fails_unless_the_major_version_goes_up(kind: Kind, verdicts: dict[str, compat.Verdict]) -> None:
    verdict = verdicts[kind.name]

    assert any(kind.named in line for line in verdict.breaking), verdict.breaking
    assert verdict.problems == [
        f"{len(verdict.breaking)} breaking change(s): info.version must be {MAJOR + 1}.0.0 or later, "
        f"not {compat.show(VERSION)}."
    ]
    assert dataclasses.replace(verdict, current=(MAJOR, MINOR + 1, 0)).problems  # a minor bump is not enough
    assert dataclasses.replace(verdict, current=(MAJOR + 1, 0, 0)).problems == []


def test_every_break_at_once_passes_under_a_new_major_version(verdicts: dict[str, compat.Verdict]) -> None:
    verdict = verdicts["every break"]

    for kind in BREAKS:
        assert any(kind.named in line for line in verdict.breaking), kind
    assert verdict.problems == []


@pytest.mark.parametrize("kind", ADDITIONS, ids=str)
def test_an_addition_passes_only_under_a_new_minor_version(kind: Kind, verdicts: dict[str, compat.Verdict]) -> None:
    verdict = verdicts[kind.name]

    assert verdict.change is compat.Change.CONTRACT
    assert verdict.breaking == ()
    assert verdict.problems == []
    for version in [VERSION, (MAJOR, MINOR, PATCH + 1)]:
        assert dataclasses.replace(verdict, current=version).problems == [
            f"The contract changed: info.version must be {MAJOR}.{MINOR + 1}.0 or later, not {compat.show(version)}."
        ]


def test_new_wording_needs_a_new_patch_version(tmp_path: Path, released: Path) -> None:
    def reword(spec: dict[str, Any]) -> None:
        spec["info"]["description"] += "\nOne more sentence."
        schemas(spec)["Post"]["description"] = "A post, as its author wrote it."
        spec["paths"]["/posts"]["get"]["summary"] = "Posts, newest first"

    reworded = Kind("reworded", reword, "")

    assert compat.check(changed(tmp_path, reworded), released).problems == [
        f"The wording changed: info.version must be {MAJOR}.{MINOR}.{PATCH + 1} or later, not {compat.show(VERSION)}."
    ]
    assert compat.check(changed(tmp_path, reworded, version=(MAJOR, MINOR, PATCH + 1)), released).problems == []


def test_a_field_named_like_an_annotation_is_no_wording() -> None:
    spec = copy.deepcopy(CURRENT)
    schemas(spec)["PostCreate"]["properties"]["description"] = {"type": "string", "maxLength": 20}

    assert compat.change_between(CURRENT, spec) is compat.Change.CONTRACT


def test_the_version_never_goes_back(tmp_path: Path, released: Path) -> None:
    older = (MAJOR - 1, 9, 9) if MAJOR else (0, MINOR - 1, 0)

    assert compat.check(changed(tmp_path, version=older), released).problems == [
        f"info.version {compat.show(older)} is older than the released {compat.show(VERSION)}."
    ]
    assert compat.check(changed(tmp_path), released).problems == []  # unchanged, same version


def test_the_newest_release_is_the_one_compared(released: Path) -> None:
    (released / "0.9.0.yaml").write_text("openapi: 3.0.3\ninfo: {version: 0.9.0}\npaths: {}\n", encoding="utf-8")
    (released / "0.10.0.yaml").write_text("openapi: 3.0.3\ninfo: {version: 0.10.0}\npaths: {}\n", encoding="utf-8")

    assert compat.newest_release(released).name == f"{compat.show(VERSION)}.yaml"


def test_the_repository_follows_the_policy() -> None:
    verdict = compat.check(SPEC, ROOT / "spec" / "released")

    assert verdict.problems == [], verdict.breaking
