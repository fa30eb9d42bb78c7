"""The peers Gateway is compared with: the same endpoints on the same database, built the usual way on
another web stack. Each reuses the project's `domain` and `storage` modules (which import nothing from the
web), so the database work is identical and only the web stack differs."""
