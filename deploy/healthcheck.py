"""The container's HEALTHCHECK: exits 0 when /api/v1/healthz answers 200 on this host's PORT, 1 otherwise.
Python's own urllib, because the slim image has no curl."""

from __future__ import annotations

import os
import sys
import urllib.error
import urllib.request

URL = f"http://127.0.0.1:{os.environ.get('PORT', '8080')}/api/v1/healthz"


def main() -> int:
    try:
        with urllib.request.urlopen(URL, timeout=3) as response:
            return 0 if response.status == 200 else 1
    except (urllib.error.URLError, OSError) as error:
        print(f"{URL}: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
