"""`make reload`: ask the running gateway to load data/kb again (POST /api/v1/kb/reload);
`make reload-model` (`--model`): have its Rasa processes switch to the model `make train`
wrote, one replica at a time (POST /api/v1/model/reload).

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
MODEL_PATH = "/api/v1/model/reload"


def main(argv: Optional[List[str]] = None) -> int:
    settings = Settings()
    parser = argparse.ArgumentParser(prog="python -m bot.runtime.reload", description=__doc__.splitlines()[0])
    parser.add_argument("--url", default=f"http://{settings.gateway_host}:{settings.gateway_port}")
    parser.add_argument("--token", default=next(iter(sorted(settings.tokens)), ""))
    parser.add_argument("--model", nargs="?", const="current.tar.gz", default=None, metavar="FILE",
                        help="switch Rasa to this model in models/ (default current.tar.gz) instead of reloading the KB")
    parser.add_argument("--timeout", type=float, default=None, help="seconds (default 30; with --model 900)")
    args = parser.parse_args(argv)
    timeout = args.timeout or (900.0 if args.model else 30.0)  # each replica loads for tens of seconds
    if not args.token:
        print("no API token: set API_TOKENS (the gateway's) or pass --token", file=sys.stderr)
        return 2
    path, payload = (MODEL_PATH, {"model_file": args.model}) if args.model else (PATH, {})
    request = urllib.request.Request(
        args.url.rstrip("/") + path, method="POST", data=json.dumps(payload).encode("utf-8"),
        headers={"Authorization": f"Bearer {args.token}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            print(json.dumps(json.loads(response.read()), ensure_ascii=False))
            return 0
    except urllib.error.HTTPError as err:
        print(f"reload refused (HTTP {err.code}): {err.read().decode('utf-8', 'replace')}", file=sys.stderr)
    except (urllib.error.URLError, OSError) as err:
        print(f"gateway not reachable at {args.url}: {err}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
