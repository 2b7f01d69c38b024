"""The blocklist store a process uses, and its command line.

Redis when `REDIS_URL` is set (prefix `BLOCKLIST_PREFIX`), else in the process, backed by
the CSV file `BLOCKLIST_FILE` (var/blocklist.csv). CSV columns `list,kind,value,note`:

    python -m bot.runtime.blocklist import FILE.csv
    python -m bot.runtime.blocklist export FILE.csv
"""
from __future__ import annotations

import argparse
import sys
from typing import List, Optional

from bot.kb.blocklist import Blocklist, BlocklistError, InMemoryBlocklist, RedisBlocklist
from bot.kb.loader import KnowledgeBase
from bot.settings import Settings


def create_blocklist(kb: Optional[KnowledgeBase] = None, settings: Optional[Settings] = None) -> Blocklist:
    """The store `settings` name (read from the environment when not given)."""
    settings = settings or Settings()
    if settings.redis_url:
        return RedisBlocklist.from_url(settings.redis_url, settings.blocklist_prefix, kb)
    return InMemoryBlocklist(settings.blocklist_file, kb)


def _where(settings: Settings) -> str:
    return f"Redis ({settings.redis_url})" if settings.redis_url else f"local file {settings.blocklist_file}"


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bot.runtime.blocklist",
        description="Import or export the blocklist / allowlist (CSV columns list,kind,value,note).",
    )
    parser.add_argument("command", choices=["import", "export"])
    parser.add_argument("file", help="the CSV file")
    try:
        args = parser.parse_args(argv)
    except SystemExit as stop:  # a usage error: argparse printed the usage to stderr
        return int(stop.code or 0)
    settings = Settings()
    where = _where(settings)
    try:
        store = create_blocklist(None, settings)
        if args.command == "import":
            count = store.import_csv(args.file)
            if isinstance(store, InMemoryBlocklist):
                store.save()
            print(f"imported {count} entries from {args.file} into {where}")
        else:
            count = store.export_csv(args.file)
            print(f"exported {count} entries from {where} to {args.file}")
    except BlocklistError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    except OSError as err:
        print(f"error: {args.file}: {err.strerror or err}", file=sys.stderr)
        return 1
    except Exception as err:  # redis connection errors and the like
        print(f"error: {where}: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
