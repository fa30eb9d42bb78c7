"""Gunicorn settings for production: `gunicorn -c deploy/gunicorn.conf.py` (what `make serve` and the
container's deploy/start.sh run). Every value comes from the environment, with the defaults below."""

from __future__ import annotations

import os
from typing import Any

# The app factory, called once in each worker after the fork: each worker opens its own database pool.
wsgi_app = "app:create_app()"
# The same HTTP server as `make run` (uvicorn), one event loop per worker process. uvicorn.workers is
# deprecated in favour of the uvicorn-worker package.
worker_class = "uvicorn_worker.UvicornWorker"
bind = [f"{os.environ.get('HOST', '127.0.0.1')}:{os.environ.get('PORT', '8080')}"]


def default_workers(cores: int) -> int:
    """One worker per core, at least two, at most four. Gunicorn's 2 x cores + 1 is for workers that block on
    one request at a time; an event-loop worker already serves many (Flask handlers run in its thread pool),
    and more processes buy memory and connections, not speed: each holds about 80 MB plus 64 MiB for every
    Argon2 hash under way, SQLite lets one process write at a time, and each worker's PostgreSQL pools
    (reads', writes') keep up to 10 connections each (PostgreSQL allows 100 by default). Set WEB_CONCURRENCY
    to choose."""
    return max(2, min(cores, 4))


workers = int(os.environ.get("WEB_CONCURRENCY") or default_workers(os.cpu_count() or 1))
# Each worker listens on a socket of its own (SO_REUSEPORT), and the kernel spreads new connections over
# them. On one shared socket, whichever worker woke first accepted the whole burst: 16 keep-alive
# connections opened at once went 16 to 0 in three bursts of six, leaving one worker to serve them all
# while the other idled; on sockets of their own, 5 to 11 at worst in eight bursts.
reuse_port = True


def post_fork(server: Any, worker: Any) -> None:
    """In each new worker, before it builds the app: how many workers there are, as the command line or the
    environment decided, for the app to place its database work by (app.placement_of_database_work)."""
    os.environ["WEB_CONCURRENCY"] = str(server.cfg.workers)


# On SIGTERM workers stop accepting connections and finish what they hold: a request body may take 10 s to
# arrive (requestBodySeconds in the spec), then a password hash. Whatever is left afterwards is killed.
graceful_timeout = int(os.environ.get("GATEWAY_GRACEFUL_SECONDS", "20"))
# A worker whose event loop has not checked in for this long is restarted.
timeout = 30
# Longer than a client's usual pause between requests; a proxy in front should idle out first.
keepalive = 5
# No access log from gunicorn: the application writes its own line per request (with its request id).
# Gunicorn's own messages (workers started, stopped, killed) go to stderr.
accesslog = None
errorlog = "-"
# The proxies whose X-Forwarded-For / X-Forwarded-Proto are believed (the client address counts for rate
# limits). Set FORWARDED_ALLOW_IPS to the load balancer's address; never "*" unless only it can reach us.
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1,::1")
# Gunicorn 25.1+ opens a control socket under $HOME/.gunicorn by default: a write outside the places the
# service is told to write (the container's user has no home), shared by every gunicorn of that user.
control_socket_disable = True
