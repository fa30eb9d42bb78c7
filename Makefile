# The two commands a newcomer needs: `make run` and `make test`. Everything else is what they depend on.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8080
# PostgreSQL for the second pass of the suite: a throwaway database the tests create and own.
TEST_POSTGRES_URL ?= postgresql://postgres@127.0.0.1:5432/gateway_test

.PHONY: run test lint typecheck spec pytest-sqlite pytest-postgres admin bench-logs clean

$(BIN)/.runtime: requirements.txt constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.txt -c constraints.txt
	touch $@

$(BIN)/.dev: $(BIN)/.runtime requirements-dev.txt
	$(BIN)/pip install --quiet -r requirements-dev.txt -c constraints.txt
	touch $@

run: $(BIN)/.runtime
	$(BIN)/python manage.py migrate
	$(BIN)/uvicorn --factory app:create_app --host $(HOST) --port $(PORT)

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
# --strict with the code a frontend writes against it (clients/typescript). Any error fails the build.
spec: $(BIN)/.dev node_modules/.installed
	$(BIN)/openapi-spec-validator spec/openapi.yaml
	node_modules/.bin/spectral lint spec/openapi.yaml --fail-severity=error --display-only-failures
	REDOCLY_TELEMETRY=off node_modules/.bin/redocly lint spec/openapi.yaml
	node_modules/.bin/openapi-typescript spec/openapi.yaml -o clients/typescript/gateway.d.ts
	node_modules/.bin/tsc -p clients/typescript

pytest-sqlite: $(BIN)/.dev
	$(BIN)/pytest

pytest-postgres: $(BIN)/.dev
	TEST_DATABASE_URL=$(TEST_POSTGRES_URL) $(BIN)/pytest

# Not part of `make test`: generates a 1 GiB log and prints figures (several minutes).
bench-logs: $(BIN)/.dev
	$(BIN)/python -m benchmarks.logs

clean:
	rm -rf $(VENV) node_modules var .pytest_cache .mypy_cache .ruff_cache .hypothesis reports
