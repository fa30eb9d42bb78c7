"""Does the time of a refused login tell whether the email exists? Prints the time of POST /tokens for a
wrong password on a real account and for an unknown email, with the production Argon2 cost.

    .venv/bin/python -m benchmarks.login [--rounds 30]

In process (no network noise), on a temporary SQLite database, rate limits off. Interleaved, so that
machine load falls on both alike."""

from __future__ import annotations

import argparse
import base64
import statistics
import tempfile
import time
from pathlib import Path

from app import create_app
from settings import Settings
from storage.migrate import upgrade


def basic(email: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{email}:{password}".encode()).decode()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=30)
    rounds = parser.parse_args().rounds
    with tempfile.TemporaryDirectory(prefix="gateway-login-") as folder:
        url = f"sqlite:///{Path(folder) / 'gateway.db'}"
        upgrade(url)
        app = create_app(Settings(database_url=url, rate_limits=False, validate_responses=False))
        with app.test_client() as client:
            account = {"name": "Ada", "email": "ada@example.com", "password": "correct horse battery"}
            assert client.post("/api/v1/users", json=account).status_code == 201
            cases = {"wrong password": "ada@example.com", "unknown email": "nobody@example.com"}
            timings: dict[str, list[float]] = {case: [] for case in cases}
            answers: dict[str, set[str]] = {case: set() for case in cases}
            for _ in range(rounds):
                for case, email in cases.items():
                    started = time.perf_counter()
                    refused = client.post("/api/v1/tokens", headers=basic(email, "not the password"))
                    timings[case].append(time.perf_counter() - started)
                    answers[case].add(f"{refused.status_code} {refused.text}")
    print(f"POST /tokens refused, {rounds} rounds each, production Argon2id (64 MiB, t=3, p=4):")
    print(f"{'case':<16}{'median ms':>11}{'p10 ms':>9}{'p90 ms':>9}")
    for case, values in timings.items():
        deciles = statistics.quantiles(values, n=10)
        print(f"{case:<16}{statistics.median(values) * 1000:>11.1f}{deciles[0] * 1000:>9.1f}{deciles[-1] * 1000:>9.1f}")
    ratio = statistics.median(timings["unknown email"]) / statistics.median(timings["wrong password"])
    same = answers["wrong password"] == answers["unknown email"]
    print(f"unknown / wrong median ratio: {ratio:.2f}; identical answers: {same}")


if __name__ == "__main__":
    main()
