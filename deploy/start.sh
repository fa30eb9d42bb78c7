#!/bin/sh
# The container's entry point, and `make serve`: bring the database to this build's schema, then become
# gunicorn (exec), so that the SIGTERM a container engine or process manager sends reaches it directly and
# starts the graceful shutdown. Arguments are passed on to gunicorn.
set -eu
cd "$(dirname "$0")/.."
python manage.py migrate
exec gunicorn --config deploy/gunicorn.conf.py "$@"
