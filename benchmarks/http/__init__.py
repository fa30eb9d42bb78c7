"""Gateway against two peers on the same endpoints and the same database: a plain Flask app under gunicorn's
sync worker and a FastAPI app under uvicorn. Run it as `python -m benchmarks.http --help`; never part of
the test suite. See __main__.py for what a run does."""
