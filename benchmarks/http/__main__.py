"""Gateway against a plain Flask app and a FastAPI app serving the same endpoints from the same database.

    .venv/bin/python -m benchmarks.http [--seconds 10] [--warmup 1] [--rounds 3] [--connections 16]
        [--workers 1] [--endpoints get,list,create,invalid] [--stacks gateway,flask,fastapi]
        [--posts 200] [--server-cpu 0] [--load-cpu 1] [--json PATH]

Needs wrk (Debian: apt-get install -y wrk) and FastAPI (pip install -r benchmarks/requirements.txt).

A fresh SQLite database in a temporary folder is brought to Gateway's schema by its migrations and given one
user, a token with posts:write and --posts posts. Each stack then runs as a real server on loopback, pinned
to --server-cpu, started once and kept for the whole benchmark: Gateway as deployed (`gunicorn -c
deploy/gunicorn.conf.py`, uvicorn workers) in production mode without rate limits
(servers.GATEWAY_SETTINGS), the Flask peer under gunicorn's sync worker, the FastAPI peer under uvicorn,
each with --workers workers. Before any load every stack must answer every endpoint with the expected status
and the same JSON; then, for each round and endpoint, the stacks take turns in an order that rotates, each
with a warm-up and a measured wrk run (--connections connections, one thread, pinned to --load-cpu). Prints
the median over the rounds of requests/s, p50, p99 and the server's CPU time per request (its workers' user
and system time during the run, over the requests answered) per endpoint and stack; Gateway's requests/s
over each peer's, round by round, as the median with the lowest and highest; and each stack's start-up time
and memory per worker. Creates add rows to the posts table during the runs, for every stack alike. Every
server is stopped at the end, on an error, on Ctrl-C or SIGTERM."""

from __future__ import annotations

import argparse
import os
import platform
import signal
import subprocess
import sys
import tempfile
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from types import FrameType

from benchmarks.http import loadgen, preflight, servers
from benchmarks.http.dataset import Dataset, count_posts, prepare
from benchmarks.http.endpoints import NAMES, Endpoint, endpoints
from benchmarks.http.report import Run, StackFacts, medians, render, write_json
from benchmarks.http.servers import STACKS, Server, ServerDidNotStart
from benchmarks.load import recreate_postgres

DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/gateway_bench"
PACKAGES = {
    "connexion": "connexion", "flask": "Flask", "fastapi": "fastapi", "pydantic": "pydantic",
    "starlette": "starlette", "uvicorn": "uvicorn", "gunicorn": "gunicorn", "uvloop": "uvloop",
    "httptools": "httptools", "sqlalchemy": "SQLAlchemy",
}  # fmt: skip


def names(choices: tuple[str, ...]) -> Callable[[str], list[str]]:
    """An argparse type: a comma-separated subset of `choices`, in the order given."""

    def parse(value: str) -> list[str]:
        chosen = [name.strip() for name in value.split(",") if name.strip()]
        unknown = [name for name in chosen if name not in choices]
        if unknown or not chosen or len(set(chosen)) != len(chosen):
            raise argparse.ArgumentTypeError(f"a comma-separated list of distinct names among {', '.join(choices)}")
        return chosen

    return parse


def cpu_list(value: str) -> str:
    """An argparse type: CPU numbers for taskset --cpu-list, comma-separated."""
    numbers = [part.strip() for part in value.split(",")]
    if not all(part.isdigit() for part in numbers) or len(set(numbers)) != len(numbers):
        raise argparse.ArgumentTypeError("CPU numbers separated by commas, e.g. 0 or 0,1")
    return ",".join(numbers)


def at_least(minimum: int) -> Callable[[str], int]:
    def parse(value: str) -> int:
        number = int(value)
        if number < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}")
        return number

    return parse


def arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.http", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=at_least(1), default=10, help="measured seconds per run (default 10)")
    parser.add_argument("--warmup", type=at_least(0), default=1, help="warm-up seconds before each run (default 1)")
    parser.add_argument("--rounds", type=at_least(1), default=3, help="rounds; the median is reported (default 3)")
    parser.add_argument("--connections", type=at_least(1), default=16, help="wrk connections (default 16)")
    parser.add_argument("--workers", type=at_least(1), default=1, help="server worker processes (default 1)")
    parser.add_argument("--endpoints", type=names(NAMES), default=list(NAMES), help=f"default {','.join(NAMES)}")
    parser.add_argument("--stacks", type=names(tuple(STACKS)), default=list(STACKS), help=f"default {','.join(STACKS)}")
    parser.add_argument("--posts", type=at_least(1), default=200, help="posts seeded before the runs (default 200)")
    parser.add_argument(
        "--server-cpu",
        type=cpu_list,
        default="0",
        help="CPUs the servers are pinned to, e.g. 0 or 0,1 (default 0); with more workers than CPUs here, wrk "
        "may share one of them (said in the notes)",
    )
    parser.add_argument("--load-cpu", type=at_least(0), default=1, help="CPU wrk is pinned to (default 1)")
    parser.add_argument(
        "--database",
        choices=("sqlite", "postgresql"),
        default="sqlite",
        help="a SQLite file (default), or a PostgreSQL database made for the run and dropped after it",
    )
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get("BENCH_POSTGRES_URL", DEFAULT_POSTGRES_URL),
        help=f"with --database postgresql: the database to create and drop (default {DEFAULT_POSTGRES_URL})",
    )
    parser.add_argument("--json", type=Path, help="also write the results to this JSON file")
    args = parser.parse_args(argv)
    available = os.sched_getaffinity(0)
    if not {*map(int, args.server_cpu.split(",")), args.load_cpu} <= available:
        parser.error(f"--server-cpu and --load-cpu must name CPUs among {sorted(available)}")
    if args.json is not None and not args.json.parent.is_dir():
        parser.error(f"--json: no folder {args.json.parent} to write {args.json.name} in")
    return args


def wrk_version(wrk: str) -> str:
    # `wrk -v` prints its version and usage, and exits 1.
    shown = subprocess.run([wrk, "-v"], capture_output=True, text=True, timeout=10, check=False)
    return (shown.stdout or shown.stderr).splitlines()[0] if (shown.stdout or shown.stderr) else "unknown"


def progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def measure(
    wrk: str, args: argparse.Namespace, chosen: list[Endpoint], running: list[Server], data: Dataset
) -> list[Run]:
    runs: list[Run] = []
    for round_number in range(args.rounds):
        for index, endpoint in enumerate(chosen):
            # Rotate who goes first, by round and by endpoint, so no stack always follows the same one.
            offset = (round_number + index) % len(running)
            for position, server in enumerate(running[offset:] + running[:offset]):
                options = {"seconds": args.warmup, "connections": args.connections, "cpu": args.load_cpu}
                if args.warmup:
                    loadgen.run(wrk, server.base_url, endpoint, data.token, **options)
                options["seconds"] = args.seconds
                cpu_before = server.cpu_seconds()
                result = loadgen.run(wrk, server.base_url, endpoint, data.token, **options)
                cpu = server.cpu_seconds() - cpu_before
                runs.append(Run(round_number + 1, position, endpoint, server.stack.name, result, cpu))
                progress(
                    f"round {round_number + 1}/{args.rounds} {endpoint.name:<8} {server.stack.name:<8}"
                    f"{result.requests_per_second:9.0f} req/s  p50 {result.p50_ms:7.2f} ms  p99 {result.p99_ms:7.2f} ms"
                    f"  CPU {runs[-1].cpu_ms_per_request:5.2f} ms/req"
                    + (f"  unexpected {result.unexpected(endpoint)}" if result.unexpected(endpoint) else "")
                )
    return runs


def benchmark(args: argparse.Namespace) -> int:
    wrk = loadgen.require_tools()
    preflight.spec_limits_match()
    # Exits in reverse order: the servers stop before their database's folder is removed.
    with tempfile.TemporaryDirectory(prefix="gateway-http-bench-") as folder, ExitStack() as stop_later:
        directory = Path(folder)
        if args.database == "postgresql":
            database_url = args.postgres_url
            recreate_postgres(database_url, create=True)
            stop_later.callback(recreate_postgres, database_url, create=False)  # after the servers stop
        else:
            database_url = f"sqlite:///{directory / 'benchmark.db'}"
        progress(f"preparing a {args.database} database with {args.posts} posts (Gateway's migrations)")
        data = prepare(database_url, args.posts)
        running: list[Server] = []
        for name in args.stacks:
            server = servers.start(
                STACKS[name], database_url=data.database_url, workers=args.workers, cpu=args.server_cpu,
                log_dir=directory,
            )  # fmt: skip
            stop_later.callback(server.stop)
            running.append(server)
            progress(f"{name}: answering after {server.startup_seconds:.2f} s ({STACKS[name].server})")
        table = endpoints(data.post_id)
        chosen = [table[name] for name in args.endpoints]
        checked = preflight.check(running, chosen, data.token)
        statuses = checked.statuses
        progress("checked: " + "; ".join(f"{stack} {answers}" for stack, answers in statuses.items()))
        facts = [
            StackFacts(
                server.stack.name, server.stack.server, args.workers, server.startup_seconds, server.worker_rss()
            )
            for server in running
        ]
        runs = measure(wrk, args, chosen, running, data)
        for fact, server in zip(facts, running, strict=True):
            fact.loaded_rss = server.worker_rss()
        final_posts = count_posts(data.database_url)
    summary = medians(runs, statuses, args.stacks)
    notes = [
        f"{len(running)} stacks on {args.database}, {args.workers} worker(s) each, pinned to CPU {args.server_cpu}"
        + (" (wrk shares one of them)" if str(args.load_cpu) in args.server_cpu.split(",") else "")
        + "; "
        f"wrk on CPU {args.load_cpu}, 1 thread, {args.connections} connections, {args.warmup} s warm-up + "
        f"{args.seconds} s measured per run, median of {args.rounds} round(s).",
        "Gateway: "
        + ", ".join(f"{key}={value}" for key, value in servers.GATEWAY_SETTINGS.items())
        + f", gunicorn -c deploy/gunicorn.conf.py --log-level {servers.LOG_LEVEL} (its uvicorn workers on "
        "sockets of their own); no access line per request on any stack.",
        f"Creates grew the posts table from {data.seeded} to {final_posts} rows during the checks and runs "
        "(all stacks alike; reads use the (created_at, id) index, so a longer table costs them little).",
        *(
            f"{stack} ({STACKS[stack].server}) answers with `Connection: close`: wrk opens a new connection for "
            "every request to it, while the other stacks keep theirs open."
            for stack in checked.closes_connections
        ),
        "CPU ms/req: the server's workers' user and system time during the run (from /proc), over the requests "
        "wrk counted.",
        "Start-up: from the start of the process to the first 200 from GET /api/v1/healthz (polled every 20 ms). "
        "RSS: mean over the worker processes (not uvicorn's supervisor or gunicorn's arbiter), idle after the "
        "checks and again after the last run.",
        "'unexpected': answers of the wrong class (non-2xx, or 2xx for the refused create) plus socket errors.",
    ]
    print(render(summary, runs, facts))
    print()
    print("\n".join(f"- {note}" for note in notes))
    if args.json is not None:
        settings = {key: str(value) if isinstance(value, Path) else value for key, value in vars(args).items()}
        environment = {
            "python": platform.python_version(),
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "wrk": wrk_version(wrk),
            "packages": servers.versions(PACKAGES),
        }
        write_json(
            args.json, settings=settings, environment=environment, statuses=statuses, runs=runs, summary=summary,
            stacks=facts, notes=notes,
        )  # fmt: skip
        progress(f"results written to {args.json}")
    return 0


def _terminate(signum: int, _frame: FrameType | None) -> None:
    # SIGTERM unwinds like Ctrl-C, so the servers are stopped on the way out.
    raise SystemExit(128 + signum)


def main(argv: list[str] | None = None) -> int:
    args = arguments(argv)
    signal.signal(signal.SIGTERM, _terminate)
    try:
        return benchmark(args)
    except KeyboardInterrupt:
        progress("interrupted: every server started was stopped")
        return 130
    except (
        loadgen.ToolMissing, loadgen.LoadFailed, preflight.CheckFailed, ServerDidNotStart
    ) as error:  # fmt: skip
        progress(f"benchmark aborted: {error}")
        return 1


if __name__ == "__main__":
    sys.exit(main())
