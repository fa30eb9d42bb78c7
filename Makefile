# The two commands a newcomer needs: `make run` and `make test`. Everything else is what they depend on.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8080
# PostgreSQL for the second pass of the suite: a throwaway database the tests create and own.
TEST_POSTGRES_URL ?= postgresql://postgres@127.0.0.1:5432/gateway_test

.PHONY: run serve test lint typecheck spec pytest-sqlite pytest-postgres admin bench bench-logs bench-login load clean mock

$(BIN)/.runtime: requirements.txt constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.txt -c constraints.txt
	touch $@

$(BIN)/.dev: $(BIN)/.runtime requirements-dev.txt
	$(BIN)/pip install --quiet -r requirements-dev.txt -c constraints.txt
	touch $@

# Redoc's standalone bundle, served at /api/v1/docs/, comes from the pinned npm package (package-lock.json).
REDOC := web/static/redoc.standalone.js
$(REDOC): node_modules/.installed
	mkdir -p $(@D)
	cp node_modules/redoc/bundles/redoc.standalone.js node_modules/redoc/bundles/redoc.standalone.js.LICENSE.txt $(@D)/

run: $(BIN)/.runtime $(REDOC)
	$(BIN)/python manage.py migrate
	$(BIN)/uvicorn --factory app:create_app --host $(HOST) --port $(PORT) --no-access-log

# Production: the same migrations, then gunicorn with uvicorn workers (deploy/gunicorn.conf.py: WEB_CONCURRENCY,
# FORWARDED_ALLOW_IPS, GATEWAY_GRACEFUL_SECONDS). Set GATEWAY_ENV=production for production's settings.
serve: $(BIN)/.runtime $(REDOC)
	PATH="$(CURDIR)/$(BIN):$$PATH" HOST=$(HOST) PORT=$(PORT) deploy/start.sh

admin: $(BIN)/.runtime
	$(BIN)/python manage.py create-admin --email "$(EMAIL)" --name "$(NAME)"

test: lint typecheck spec pytest-sqlite pytest-postgres

lint: $(BIN)/.dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(BIN)/.dev
	$(BIN)/mypy

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

# The contract itself: valid OpenAPI 3.0, Spectral's OpenAPI and OWASP rules (.spectral.yaml), Redocly's
# recommended rules (redocly.yaml), and a TypeScript client generated from it that must type-check under
# --strict with the code a frontend writes against it (clients/typescript). Any error fails the build, and
# so does a version that breaks the versioning policy against the last released spec (spec/released).
spec: $(BIN)/.dev node_modules/.installed
	$(BIN)/openapi-spec-validator spec/openapi.yaml
	node_modules/.bin/spectral lint spec/openapi.yaml --fail-severity=error --display-only-failures
	REDOCLY_TELEMETRY=off node_modules/.bin/redocly lint spec/openapi.yaml
	$(BIN)/python -m spec.compat
	node_modules/.bin/openapi-typescript spec/openapi.yaml -o clients/typescript/gateway.d.ts
	node_modules/.bin/tsc -p clients/typescript
	node_modules/.bin/tsc -p clients/web

pytest-sqlite: $(BIN)/.dev $(REDOC)
	$(BIN)/pytest

# The spec's own tests (tests/spec: the versioning check) touch no database: they run in the first pass only.
# Then the requests' tests again with PostgreSQL's brief work on the event loop, where production puts it
# once the workers take every core (web.threads.Placement); the first pass has it in threads.
REQUEST_TESTS := tests/test_posts.py tests/test_tokens.py tests/test_users.py tests/test_idempotency.py tests/faults tests/security
pytest-postgres: $(BIN)/.dev $(REDOC)
	TEST_DATABASE_URL=$(TEST_POSTGRES_URL) $(BIN)/pytest --ignore=tests/spec
	TEST_DATABASE_URL=$(TEST_POSTGRES_URL) TEST_DATABASE_WORK=event-loop $(BIN)/pytest $(REQUEST_TESTS)

# The API mocked from the spec alone (Prism), for frontend teams: answers with the spec's examples,
# checks requests against it, keeps no state. Its routes have no /api/v1 prefix.
MOCK_PORT ?= 4010
mock: node_modules/.installed
	node_modules/.bin/prism mock spec/openapi.yaml --host 127.0.0.1 --port $(MOCK_PORT)

# Not part of `make test`: Gateway against a plain Flask app and a FastAPI app serving the same endpoints from
# the same database (benchmarks/http), loaded over loopback by wrk (apt-get install wrk); about 7 minutes.
# BENCH_ARGS passes options, e.g. BENCH_ARGS="--workers 2 --seconds 5"; --help lists them.
bench: $(BIN)/.dev
	@command -v wrk >/dev/null || { echo "make bench needs wrk (Debian: apt-get install wrk)"; exit 1; }
	$(BIN)/python -m benchmarks.http $(BENCH_ARGS)

# Not part of `make test`: generates a 1 GiB log and prints figures (several minutes).
bench-logs: $(BIN)/.dev
	$(BIN)/python -m benchmarks.logs

# Not part of `make test`: the time of a refused login, wrong password against unknown email.
bench-login: $(BIN)/.dev
	$(BIN)/python -m benchmarks.login

# Not part of `make test`: the real server (two workers) under mixed reads and writes from concurrent
# clients, a minute on SQLite then a minute on PostgreSQL (LOAD_POSTGRES_URL, default gateway_load on
# 127.0.0.1, dropped afterwards; LOAD_SECONDS to change the minute), then an audit of the database against
# every acknowledged write. Fails on any 5xx and on anything lost or never acknowledged.
load: $(BIN)/.dev
	$(BIN)/python -m benchmarks.load

clean:
	rm -rf $(VENV) node_modules web/static var .pytest_cache .mypy_cache .ruff_cache .hypothesis reports
