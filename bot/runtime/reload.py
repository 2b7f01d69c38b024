"""`make reload`: ask the running gateway to load data/kb again (POST /api/v1/kb/reload).

The token is the first of API_TOKENS (or `--token`); the gateway is the one of
GATEWAY_HOST / GATEWAY_PORT (or `--url`). Prints the answer; exit status 1 when the KB
was refused (the message names the file and the field) or the gateway did not answer.
"""
from __future__ import annotations

import argparse
import json
import sys
import urllib.error
import urllib.request
from typing import List, Optional

from bot.settings import Settings

PATH = "/api/v1/kb/reload"


def main(argv: Optional[List[str]] = None) -> int:
    settings = Settings()
    parser = argparse.ArgumentParser(prog="python -m bot.runtime.reload", description=__doc__.splitlines()[0])
    parser.add_argument("--url", default=f"http://{settings.gateway_host}:{settings.gateway_port}")
    parser.add_argument("--token", default=next(iter(sorted(settings.tokens)), ""))
    parser.add_argument("--timeout", type=float, default=30.0)
    args = parser.parse_args(argv)
    if not args.token:
        print("no API token: set API_TOKENS (the gateway's) or pass --token", file=sys.stderr)
        return 2
    request = urllib.request.Request(
        args.url.rstrip("/") + PATH, method="POST", data=b"{}",
        headers={"Authorization": f"Bearer {args.token}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=args.timeout) as response:
            print(json.dumps(json.loads(response.read()), ensure_ascii=False))
            return 0
    except urllib.error.HTTPError as err:
        print(f"reload refused (HTTP {err.code}): {err.read().decode('utf-8', 'replace')}", file=sys.stderr)
    except (urllib.error.URLError, OSError) as err:
        print(f"gateway not reachable at {args.url}: {err}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
