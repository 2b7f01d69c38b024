"""A local blocklist and allowlist of numbers, domains and accounts.

- `RedisBlocklist` (hashes `<prefix>block` / `<prefix>allow`, field `<kind>:<value>`) or
  `InMemoryBlocklist` (loaded from and saved to a CSV file when it exists); which one a
  process uses is decided by its settings (bot.runtime.blocklist: `REDIS_URL`,
  `BLOCKLIST_FILE`, `BLOCKLIST_PREFIX`).
- Official numbers are always allowlisted (built in, not stored): the knowledge base's
  hotlines (110, 96110, 12381 …), its other official numbers and its banks' numbers.
- Kinds: `phone`, `domain`, `account` (bank card, QQ, WeChat id, payment account); the
  indicator kinds url / bank_card / qq / wechat_id are accepted as aliases.  An indicator
  of kind url is checked by its host and the host's parent domains.

CSV files have the columns `list,kind,value,note` (list = block | allow); the command
line is `python -m bot.runtime.blocklist {import|export} FILE.csv`.
"""
from __future__ import annotations

import csv
import io
import json
import logging
import threading
from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Dict, Iterable, Iterator, List, Optional, Tuple

from bot.kb.extraction.hosts import url_host
from bot.kb.extraction.phones import canonical_phone
from bot.kb.results import Indicator

if TYPE_CHECKING:  # pragma: no cover
    from bot.kb.loader import KnowledgeBase

logger = logging.getLogger(__name__)

LISTS = ("block", "allow")
KINDS = ("phone", "domain", "account")
CSV_COLUMNS = ["list", "kind", "value", "note"]
DEFAULT_PREFIX = "fanzha:blocklist:"
INDICATOR_LIST_KIND = {"phone": "phone", "url": "domain", "bank_card": "account", "qq": "account", "wechat_id": "account"}


class BlocklistError(ValueError):
    """Bad input (CSV file, kind, list name); the message says where and what."""


@dataclass(frozen=True)
class ListEntry:
    list: str  # block | allow
    kind: str  # phone | domain | account
    value: str  # canonical form
    note: str = ""
    builtin: bool = False

    def to_row(self) -> Dict[str, str]:
        return {"list": self.list, "kind": self.kind, "value": self.value, "note": self.note}


# -- canonical forms --------------------------------------------------------------------


def canonical(kind: str, value: str) -> str:
    """The stored form: phones in E.164, hosts without www., accounts without separators."""
    value = (value or "").strip()
    if kind == "phone":
        return canonical_phone(value)
    if kind == "domain":
        return url_host(value)
    if kind == "account":
        return "".join(ch for ch in value if ch not in " -\t").lower()
    raise BlocklistError(f"unknown kind {kind!r} (expected one of {', '.join(KINDS)})")


def _parent_domains(host: str) -> List[str]:
    parts = host.split(".")
    return [".".join(parts[i:]) for i in range(len(parts) - 1)]


def _keys_for(indicator: Indicator) -> List[Tuple[str, str]]:
    kind = INDICATOR_LIST_KIND.get(indicator.kind)
    if kind is None:
        return []
    value = canonical(kind, indicator.value)
    if not value:
        return []
    if kind == "domain":
        return [("domain", d) for d in _parent_domains(value) or [value]]
    return [(kind, value)]


# -- stores --------------------------------------------------------------------------------


class Blocklist(ABC):
    """Stored entries plus the built-in allowlist; allow wins over block."""

    def __init__(self, kb: Optional["KnowledgeBase"] = None, builtins: bool = True) -> None:
        self._kb = kb
        self._use_builtins = builtins
        self._builtins: Optional[Dict[Tuple[str, str], ListEntry]] = None

    # storage primitives
    @abstractmethod
    def _store(self, entries: List[ListEntry]) -> None: ...

    @abstractmethod
    def _fetch(self, list_name: str, keys: List[Tuple[str, str]]) -> List[Optional[ListEntry]]: ...

    @abstractmethod
    def _delete(self, list_name: str, kind: str, value: str) -> bool: ...

    @abstractmethod
    def entries(self, list_name: Optional[str] = None) -> Iterator[ListEntry]:
        """Stored entries (built-ins not included)."""

    @abstractmethod
    def clear(self) -> None:
        """Remove every stored entry."""

    # public API
    def add(self, list_name: str, kind: str, value: str, note: str = "") -> ListEntry:
        entry = _make_entry(list_name, kind, value, note)
        self._store([entry])
        return entry

    def add_many(self, entries: Iterable[ListEntry]) -> int:
        entries = list(entries)
        if entries:
            self._store(entries)
        return len(entries)

    def remove(self, list_name: str, kind: str, value: str) -> bool:
        _check_list(list_name)
        return self._delete(list_name, kind, canonical(kind, value))

    @property
    def builtins(self) -> Dict[Tuple[str, str], ListEntry]:
        if self._builtins is None:
            self._builtins = _builtin_entries(self._kb) if self._use_builtins else {}
        return self._builtins

    def lookup(self, kind: str, value: str) -> Optional[ListEntry]:
        keys = [(kind, canonical(kind, value))]
        if kind == "domain":
            keys = [("domain", d) for d in _parent_domains(keys[0][1]) or [keys[0][1]]]
        return self._lookup_keys(keys)

    def check(self, indicator: Indicator) -> Optional[ListEntry]:
        """The list entry for an indicator (allow first), or None."""
        return self._lookup_keys(_keys_for(indicator))

    def _lookup_keys(self, keys: List[Tuple[str, str]]) -> Optional[ListEntry]:
        if not keys:
            return None
        for key in keys:
            if key in self.builtins:
                return self.builtins[key]
        try:
            for list_name in ("allow", "block"):
                for entry in self._fetch(list_name, keys):
                    if entry is not None:
                        return entry
        except Exception as err:  # Redis down: the verdict goes on without the list
            logger.warning("blocklist lookup failed (%s); treating as not listed", err)
        return None

    # CSV
    def import_csv(self, path: Path | str) -> int:
        entries = read_csv(path)
        return self.add_many(entries)

    def export_csv(self, path: Path | str) -> int:
        rows = sorted(self.entries(), key=lambda e: (e.list, e.kind, e.value))
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        with target.open("w", encoding="utf-8", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=CSV_COLUMNS)
            writer.writeheader()
            for entry in rows:
                writer.writerow(entry.to_row())
        return len(rows)


class InMemoryBlocklist(Blocklist):
    """In-process store; with `path`, loaded from that CSV and saved back by `save()`."""

    def __init__(self, path: Optional[Path | str] = None, kb=None, builtins: bool = True) -> None:
        super().__init__(kb, builtins)
        self.path = Path(path) if path else None
        self._data: Dict[str, Dict[Tuple[str, str], ListEntry]] = {name: {} for name in LISTS}
        self._lock = threading.Lock()
        if self.path is not None and self.path.exists():
            self.add_many(read_csv(self.path))

    def _store(self, entries: List[ListEntry]) -> None:
        with self._lock:
            for entry in entries:
                self._data[entry.list][(entry.kind, entry.value)] = entry

    def _fetch(self, list_name, keys):
        return [self._data[list_name].get(key) for key in keys]

    def _delete(self, list_name, kind, value) -> bool:
        with self._lock:
            return self._data[list_name].pop((kind, value), None) is not None

    def entries(self, list_name=None) -> Iterator[ListEntry]:
        for name in [list_name] if list_name else LISTS:
            yield from list(self._data[name].values())

    def clear(self) -> None:
        with self._lock:
            for table in self._data.values():
                table.clear()

    def save(self) -> Optional[Path]:
        if self.path is None:
            return None
        self.export_csv(self.path)
        return self.path


class RedisBlocklist(Blocklist):
    def __init__(self, client, prefix: str = DEFAULT_PREFIX, kb=None, builtins: bool = True) -> None:
        super().__init__(kb, builtins)
        self.redis = client
        self.prefix = prefix

    @classmethod
    def from_url(cls, url: str, prefix: str = DEFAULT_PREFIX, kb=None) -> "RedisBlocklist":
        import redis

        return cls(redis.Redis.from_url(url, decode_responses=True, socket_timeout=2), prefix, kb)

    def _key(self, list_name: str) -> str:
        return f"{self.prefix}{list_name}"

    def _store(self, entries: List[ListEntry]) -> None:
        pipe = self.redis.pipeline()
        now = datetime.now(timezone.utc).isoformat(timespec="seconds")
        for entry in entries:
            pipe.hset(self._key(entry.list), f"{entry.kind}:{entry.value}", json.dumps({"note": entry.note, "added": now}, ensure_ascii=False))
        pipe.execute()

    def _fetch(self, list_name, keys):
        values = self.redis.hmget(self._key(list_name), [f"{k}:{v}" for k, v in keys])
        result: List[Optional[ListEntry]] = []
        for (kind, value), raw in zip(keys, values):
            if raw is None:
                result.append(None)
            else:
                note = _decode_note(raw)
                result.append(ListEntry(list_name, kind, value, note))
        return result

    def _delete(self, list_name, kind, value) -> bool:
        return bool(self.redis.hdel(self._key(list_name), f"{kind}:{value}"))

    def entries(self, list_name=None) -> Iterator[ListEntry]:
        for name in [list_name] if list_name else LISTS:
            for field, raw in self.redis.hgetall(self._key(name)).items():
                kind, _, value = field.partition(":")
                yield ListEntry(name, kind, value, _decode_note(raw))

    def clear(self) -> None:
        self.redis.delete(*[self._key(name) for name in LISTS])


def _decode_note(raw: str) -> str:
    try:
        return str(json.loads(raw).get("note", ""))
    except (ValueError, AttributeError):
        return str(raw)


# -- entries, built-ins, CSV ---------------------------------------------------------------------


def _check_list(list_name: str) -> None:
    if list_name not in LISTS:
        raise BlocklistError(f"list must be 'block' or 'allow', got {list_name!r}")


# Indicator kinds accepted in CSV files for convenience.
KIND_ALIASES = {"url": "domain", "bank_card": "account", "card": "account", "qq": "account",
                "wechat_id": "account", "wechat": "account"}


def _make_entry(list_name: str, kind: str, value: str, note: str = "", builtin: bool = False) -> ListEntry:
    _check_list(list_name)
    kind = KIND_ALIASES.get(kind, kind)
    if kind not in KINDS:
        raise BlocklistError(f"kind must be one of {', '.join(KINDS)}, got {kind!r}")
    if not value or not value.strip():
        raise BlocklistError("value is empty")
    stored = canonical(kind, value)
    if not stored:
        raise BlocklistError(f"value {value!r} is not a valid {kind}")
    return ListEntry(list_name, kind, stored, (note or "").strip(), builtin)


def _builtin_entries(kb: Optional["KnowledgeBase"]) -> Dict[Tuple[str, str], ListEntry]:
    entries = {}
    for number, name in (kb.official_numbers() if kb is not None else {}).items():
        entry = _make_entry("allow", "phone", number, name, builtin=True)
        entries[(entry.kind, entry.value)] = entry
    return entries


_builtin_cache: Dict[int, InMemoryBlocklist] = {}


def builtin_allowlist(kb: Optional["KnowledgeBase"] = None) -> InMemoryBlocklist:
    """A store holding only the official numbers (used when no blocklist is given)."""
    key = id(kb)
    if key not in _builtin_cache:
        _builtin_cache[key] = InMemoryBlocklist(kb=kb)
    return _builtin_cache[key]


def read_csv(path: Path | str) -> List[ListEntry]:
    """Entries of a CSV file; every problem is reported with its line number."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise BlocklistError(f"{path}: no such file") from None
    except UnicodeDecodeError as err:
        raise BlocklistError(f"{path}: not UTF-8 text ({err.reason} at byte {err.start})") from None
    except OSError as err:
        raise BlocklistError(f"{path}: cannot read: {err.strerror}") from None
    reader = csv.reader(io.StringIO(text))
    try:
        header = next(reader)
    except StopIteration:
        raise BlocklistError(f"{path}: empty file (expected the header {','.join(CSV_COLUMNS)})") from None
    header = [h.strip().lower() for h in header]
    missing = [c for c in CSV_COLUMNS[:3] if c not in header]
    if missing:
        raise BlocklistError(
            f"{path}: line 1: header must be {','.join(CSV_COLUMNS)} (missing {', '.join(missing)}; got {','.join(header)})"
        )
    index = {name: header.index(name) for name in CSV_COLUMNS if name in header}
    entries, problems = [], []
    try:
        for row in reader:
            line = reader.line_num
            if not any(cell.strip() for cell in row):
                continue
            if len(row) > len(header):
                problems.append(f"{path}: line {line}: {len(row)} fields, the header has {len(header)}")
                continue
            cells = {name: (row[i].strip() if i < len(row) else "") for name, i in index.items()}
            try:
                entries.append(_make_entry(cells["list"], cells["kind"], cells["value"], cells.get("note", "")))
            except BlocklistError as err:
                problems.append(f"{path}: line {line}: {err}")
    except csv.Error as err:
        problems.append(f"{path}: line {reader.line_num}: malformed CSV: {err}")
    if problems:
        shown = problems[:20] + ([f"… and {len(problems) - 20} more"] if len(problems) > 20 else [])
        raise BlocklistError("\n".join(shown))
    return entries
