"""The Spectral rule of .spectral.yaml that a deprecated operation states its dates (web/deprecation.py
sends them as Deprecation and Sunset headers)."""

from __future__ import annotations

import copy
import json
import subprocess
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
CURRENT: dict[str, Any] = yaml.safe_load((ROOT / "spec" / "openapi.yaml").read_text(encoding="utf-8"))
RULE = "gateway-deprecation-dates"


def deprecated_get_post(folder: Path, name: str, marks: dict[str, str]) -> Path:
    spec = copy.deepcopy(CURRENT)
    spec["paths"]["/posts/{post_id}"]["get"].update({"deprecated": True, **marks})
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path


def test_a_deprecated_operation_must_state_both_dates(tmp_path: Path) -> None:
    cases = {
        "complete": {"x-deprecated-at": "2026-01-15", "x-sunset": "2026-12-31T12:00:00Z"},
        "no-dates": {},
        "no-sunset": {"x-deprecated-at": "2026-01-15"},
        "not-a-date": {"x-deprecated-at": "2026-01-15", "x-sunset": "soon"},
    }
    paths = [deprecated_get_post(tmp_path, name, marks) for name, marks in cases.items()]
    report = tmp_path / "report.json"

    subprocess.run(
        [ROOT / "node_modules" / ".bin" / "spectral", "lint", *paths, "--ruleset", ROOT / ".spectral.yaml",
         "--format", "json", "--output", report],
        cwd=tmp_path, capture_output=True, check=False,
    )  # fmt: skip

    findings = [finding for finding in json.loads(report.read_text()) if finding["code"] == RULE]
    complaints = {Path(finding["source"]).stem: finding["message"] for finding in findings}
    assert sorted(complaints) == ["no-dates", "no-sunset", "not-a-date"]
    assert "x-sunset" in complaints["no-sunset"]
    assert "soon" in complaints["not-a-date"]
