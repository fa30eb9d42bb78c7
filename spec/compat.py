"""The versioning policy, checked by `make spec`: spec/openapi.yaml against the newest released spec.

Every released spec is kept in spec/released/ as <info.version>.yaml. Against the newest of them:

- a change that breaks an existing client needs a new major version;
- any other change to the contract needs a new minor version;
- a change to wording only (descriptions, summaries, titles, examples) needs a new patch version.

Optic (@useoptic/optic, pinned in package.json) finds the breaking changes. Its rules miss two kinds of
narrowing in what a client sends, which `narrowed_requests` adds: a bound made tighter (maxLength,
maximum, maxItems lowered; minLength, minimum, minItems raised; or one added where there was none)
and enum values removed from the items of an array.

    python -m spec.compat [--spec spec/openapi.yaml] [--released spec/released]
"""

from __future__ import annotations

import argparse
import copy
import enum
import json
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
OPTIC = ROOT / "node_modules" / ".bin" / "optic"
METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
# Annotations: they change what the docs say, not what a client may send or receive.
WORDING = frozenset({"description", "summary", "title", "example", "examples", "externalDocs"})
# Optic's breaking-changes rules, run also when the major version changes (Optic skips them then by
# default): the policy decides what a version allows, and a major release lists what it breaks.
OPTIC_STANDARD = "ruleset:\n  - breaking-changes:\n      skip_when_major_version_changes: false\n"
UPPER_BOUNDS = ("maxLength", "maximum", "maxItems")
LOWER_BOUNDS = ("minLength", "minimum", "minItems")

Version = tuple[int, int, int]
Document = dict[str, Any]


class CompatError(RuntimeError):
    """The check could not run: a version that is not MAJOR.MINOR.PATCH, no released spec, Optic failing."""


class Change(enum.Enum):
    """How much the spec changed since its release, as the check reports it."""

    NONE = "unchanged"
    WORDING = "wording changed"
    CONTRACT = "contract changed"


@dataclass(frozen=True)
class Verdict:
    released: Version
    current: Version
    change: Change
    breaking: tuple[str, ...]

    @property
    def problems(self) -> list[str]:
        """Why the current version may not ship this spec; empty when it may."""
        released, current = show(self.released), show(self.current)
        if self.current < self.released:
            return [f"info.version {current} is older than the released {released}."]
        if self.breaking and self.current[0] <= self.released[0]:
            needed = f"{self.released[0] + 1}.0.0"
            return [f"{len(self.breaking)} breaking change(s): info.version must be {needed} or later, not {current}."]
        if self.change is Change.CONTRACT and self.current[:2] <= self.released[:2]:
            needed = f"{self.released[0]}.{self.released[1] + 1}.0"
            return [f"The contract changed: info.version must be {needed} or later, not {current}."]
        if self.change is Change.WORDING and self.current <= self.released:
            needed = show((self.released[0], self.released[1], self.released[2] + 1))
            return [f"The wording changed: info.version must be {needed} or later, not {current}."]
        return []


def parse_version(text: object) -> Version:
    match = re.fullmatch(r"(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)", str(text))
    if not match:
        raise CompatError(f"info.version {text!r} is not MAJOR.MINOR.PATCH")
    major, minor, patch = (int(part) for part in match.groups())
    return major, minor, patch


def show(version: Version) -> str:
    return ".".join(map(str, version))


def newest_release(folder: Path) -> Path:
    released = {parse_version(path.stem): path for path in folder.glob("*.yaml")}
    if not released:
        raise CompatError(f"no released spec in {folder}: copy the spec there as <info.version>.yaml")
    return released[max(released)]


def load(path: Path) -> Document:
    document: Document = yaml.safe_load(path.read_text(encoding="utf-8"))
    return document


def change_between(released: Document, current: Document) -> Change:
    def unversioned(document: Document) -> Document:
        document = copy.deepcopy(document)
        document["info"].pop("version", None)
        return document

    before, after = unversioned(released), unversioned(current)
    if before == after:
        return Change.NONE
    return Change.WORDING if _without_wording(before) == _without_wording(after) else Change.CONTRACT


def _without_wording(node: Any, names: bool = False) -> Any:
    """`names` marks a map of property names, where `description` may name a field rather than annotate."""
    if isinstance(node, dict):
        return {key: _without_wording(value, key == "properties") for key, value in node.items()
                if names or key not in WORDING}  # fmt: skip
    if isinstance(node, list):
        return [_without_wording(value) for value in node]
    return node


def optic_breaks(released: Path, current: Path) -> list[str]:
    """Optic's breaking-changes rules, one line per failed check."""
    results = _optic_results(released, current)
    known = load(released)
    # Optic 1.0.9 takes the required fields of a request media type added beside the old ones (a form
    # besides JSON) for new required fields; a client keeps sending what it sent, so that breaks nobody.
    results = [result for result in results if not _in_new_request_media_type(known, result["location"])]
    # A removed operation takes its responses with it: the removal alone says it.
    removed = tuple(f"{result['where']} " for result in results if result["name"] == "prevent operation removal")
    lines = [
        f"{result['where']}: {result['error'].removesuffix(' This is a breaking change.')}"
        for result in results
        if not result["where"].startswith(removed)
    ]
    return list(dict.fromkeys(lines))


def _optic_results(released: Path, current: Path) -> list[dict[str, Any]]:
    """Optic runs offline and without telemetry; with CI set it writes its results as JSON
    (ci-run-details.json) into its working directory, a fresh one here."""
    with tempfile.TemporaryDirectory(prefix="optic-") as workdir:
        env = os.environ | {"CI": "true", "OPTIC_TELEMETRY_LEVEL": "off"}
        standard = Path(workdir) / "standard.yml"
        standard.write_text(OPTIC_STANDARD, encoding="utf-8")
        run = subprocess.run(  # noqa: S603 -- the pinned Optic, on two spec files
            [OPTIC, "diff", released.resolve(), current.resolve(), "--check", "--standard", standard],
            cwd=workdir, env=env, capture_output=True, text=True, timeout=300, check=False,
        )  # fmt: skip
        details = Path(workdir) / "ci-run-details.json"
        data: dict[str, Any] = json.loads(details.read_text(encoding="utf-8")) if details.exists() else {}
    if not data or data["failed"]:
        raise CompatError(f"optic diff failed ({run.returncode}):\n{run.stdout}{run.stderr}")
    return [result for done in data["completed"] for result in done["comparison"]["results"]
            if not result["passed"] and not result.get("exempted")]  # fmt: skip


def _in_new_request_media_type(released: Document, location: Mapping[str, str]) -> bool:
    parts = [part.replace("~1", "/").replace("~0", "~") for part in location["jsonPath"].split("/")[1:]]
    if location["spec"] != "after" or len(parts) < 6 or parts[0] != "paths" or parts[3:5] != ["requestBody", "content"]:
        return False
    operation = released["paths"].get(parts[1], {}).get(parts[2])
    if operation is None:
        return False
    return parts[5] not in _resolve(released, operation.get("requestBody", {})).get("content", {})


def narrowed_requests(released: Document, current: Document) -> list[str]:
    """What a client may send and now may not, in the two ways Optic's rules do not look at."""
    lines: list[str] = []
    for path, old_item in released["paths"].items():
        new_item = current["paths"].get(path, {})
        for method in METHODS:
            old_op, new_op = old_item.get(method), new_item.get(method)
            if old_op is None or new_op is None:
                continue
            operation = f"{method.upper()} {path}"
            old_params = _parameters(released, old_item, old_op)
            new_params = _parameters(current, new_item, new_op)
            for (where, name), old in old_params.items():
                if new := new_params.get((where, name)):
                    label = f"{operation} {where} parameter '{name}'"
                    lines += _narrowed(released, current, old.get("schema"), new.get("schema"), label)
            old_body = _resolve(released, old_op.get("requestBody", {})).get("content", {})
            new_body = _resolve(current, new_op.get("requestBody", {})).get("content", {})
            for media in sorted(old_body.keys() & new_body.keys()):
                old, new = old_body[media], new_body[media]
                label = f"{operation} request body ({media})"
                lines += _narrowed(released, current, old.get("schema"), new.get("schema"), label)
    return list(dict.fromkeys(lines))


def _resolve(document: Document, node: Any) -> Any:
    """Follows local references (#/components/...), the only kind the spec uses."""
    while isinstance(node, Mapping) and "$ref" in node:
        target: Any = document
        for part in str(node["$ref"]).removeprefix("#/").split("/"):
            target = target[part.replace("~1", "/").replace("~0", "~")]
        node = target
    return node


def _parameters(document: Document, item: Mapping[str, Any], operation: Mapping[str, Any]) -> dict[Any, Any]:
    """(in, name) -> parameter, the path's own and the operation's."""
    found = {}
    for parameter in [*item.get("parameters", []), *operation.get("parameters", [])]:
        parameter = _resolve(document, parameter)
        found[parameter["in"], parameter["name"]] = parameter
    return found


def _narrowed(
    released: Document, current: Document, old: Any, new: Any, label: str, field: str = "", depth: int = 0
) -> Iterator[str]:
    """`field` names the part of the value being compared: `title`, `author.name`, `scopes[]`."""
    old, new = _resolve(released, old), _resolve(current, new)
    if not isinstance(old, Mapping) or not isinstance(new, Mapping) or depth > 32:
        return
    where = f"{label} field '{field}'" if field else label
    for key in UPPER_BOUNDS + LOWER_BOUNDS:
        if key in new and key not in old:
            yield f"{where}: {key} {new[key]} where there was none"
        elif key in new and (new[key] < old[key] if key in UPPER_BOUNDS else new[key] > old[key]):
            yield f"{where}: {key} {'lowered' if key in UPPER_BOUNDS else 'raised'} from {old[key]} to {new[key]}"
    if field.endswith("[]") and "enum" in new:
        if "enum" not in old:
            yield f"{where}: enum added, values {new['enum']}"
        elif removed := [value for value in old["enum"] if value not in new["enum"]]:
            yield f"{where}: enum values removed: {', '.join(map(str, removed))}"
    for name in sorted(old.get("properties", {}).keys() & new.get("properties", {}).keys()):
        inner = f"{field}.{name}" if field else name
        old_field, new_field = old["properties"][name], new["properties"][name]
        yield from _narrowed(released, current, old_field, new_field, label, inner, depth + 1)
    if "items" in old and "items" in new:
        yield from _narrowed(released, current, old["items"], new["items"], label, f"{field}[]", depth + 1)
    for combinator in ("allOf", "anyOf", "oneOf"):
        for old_part, new_part in zip(old.get(combinator, []), new.get(combinator, []), strict=False):
            yield from _narrowed(released, current, old_part, new_part, label, field, depth + 1)


def check(spec: Path, released_folder: Path) -> Verdict:
    base = newest_release(released_folder)
    released, current = load(base), load(spec)
    if parse_version(released["info"]["version"]) != parse_version(base.stem):
        raise CompatError(f"{base} holds info.version {released['info']['version']}: name it after its version")
    change = change_between(released, current)
    breaking: list[str] = []
    if change is Change.CONTRACT:
        breaking = optic_breaks(base, spec) + narrowed_requests(released, current)
    return Verdict(parse_version(released["info"]["version"]), parse_version(current["info"]["version"]),
                   change, tuple(breaking))  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m spec.compat", description=__doc__.splitlines()[0])
    parser.add_argument("--spec", type=Path, default=Path("spec/openapi.yaml"))
    parser.add_argument("--released", type=Path, default=Path("spec/released"))
    args = parser.parse_args(argv)
    try:
        verdict = check(args.spec, args.released)
    except CompatError as error:
        print(f"spec.compat: {error}", file=sys.stderr)
        return 2
    print(f"{args.spec} {show(verdict.current)} against the released {show(verdict.released)}: {verdict.change.value}")
    if verdict.breaking:
        print(f"Breaking changes ({len(verdict.breaking)}):")
        for line in verdict.breaking:
            print(f"  - {line}")
    for problem in verdict.problems:
        print(f"FAIL: {problem}")
    if not verdict.problems:
        print("OK: the version follows the versioning policy.")
    return 1 if verdict.problems else 0


if __name__ == "__main__":
    sys.exit(main())
