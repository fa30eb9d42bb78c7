"""Persistence: the database engine, the tables and their migrations. Nothing here knows about HTTP."""
