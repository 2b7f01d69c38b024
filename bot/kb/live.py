"""The KB a running process serves, and how it is replaced without a restart.

- The KB's version is a hash of the files of its directory (every `*.yml` under it,
  paths and bytes), so two processes that loaded the same files report the same version.
- `LiveKb.reload()` loads the directory again with `load_kb` (the one loader, the one
  validation) and replaces the snapshot as one object; a broken KB raises the loader's
  `KnowledgeBaseError` (file and field) and the running snapshot stays. A request that
  took the snapshot before the swap keeps it to the end.
- `LiveKb.refresh()` is the cheap check for processes nobody calls directly (the action
  server, any number of them): one stat per file, at most once every CHECK_EVERY_S (it
  was a seventh of the action server's busy time when done on every call, `make load`);
  the files are read and hashed only when a (mtime, size) changed, and a broken KB is
  logged once and the running one stays.
"""
from __future__ import annotations

import hashlib
import logging
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional, Tuple

from bot.kb.loader import DEFAULT_KB_DIR, KnowledgeBase, KnowledgeBaseError, load_kb

log = logging.getLogger(__name__)
VERSION_CHARS = 12
# An edit landing while the files are read is seen as a version change between the
# hash taken before and the one after loading; the load is then tried again.
LOAD_ATTEMPTS = 3
# How often `refresh()` looks at the files: an edit is served within this many seconds.
CHECK_EVERY_S = 1.0

Signature = Tuple[Tuple[str, int, int], ...]


def kb_files(kb_dir: Path) -> List[Path]:
    return sorted(p for p in Path(kb_dir).rglob("*.yml") if p.is_file())


def kb_signature(kb_dir: Path) -> Signature:
    """(relative path, mtime_ns, size) of every KB file: changes when any file does."""
    out = []
    for path in kb_files(kb_dir):
        try:
            st = path.stat()
        except FileNotFoundError:  # removed between the listing and the stat
            continue
        out.append((path.relative_to(kb_dir).as_posix(), st.st_mtime_ns, st.st_size))
    return tuple(out)


def kb_version(kb_dir: Path) -> str:
    """Hash of the KB files' relative paths and contents (the first VERSION_CHARS hex digits)."""
    digest = hashlib.sha256()
    for path in kb_files(kb_dir):
        digest.update(path.relative_to(kb_dir).as_posix().encode("utf-8") + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()[:VERSION_CHARS]


@dataclass(frozen=True)
class KbSnapshot:
    """One loaded, validated KB and the version of the files it came from."""

    kb: KnowledgeBase
    version: str

    @property
    def types(self) -> int:
        """How many real scam types it knows (without `none` and `unknown`)."""
        return len(self.kb.scam_type_ids)

    def as_dict(self) -> dict:
        return {"version": self.version, "types": self.types}


def load_snapshot(kb_dir: Path = DEFAULT_KB_DIR) -> KbSnapshot:
    kb_dir = Path(kb_dir)
    for _ in range(LOAD_ATTEMPTS):
        before = kb_version(kb_dir)
        kb = load_kb(kb_dir)
        if kb_version(kb_dir) == before:
            return KbSnapshot(kb, before)
    raise KnowledgeBaseError(f"{kb_dir}: the files kept changing while they were read; reload again")


class LiveKb:
    """The snapshot a process serves; `reload()` / `refresh()` replace it as one object."""

    def __init__(self, kb_dir: Path = DEFAULT_KB_DIR, snapshot: Optional[KbSnapshot] = None,
                 check_every_s: float = CHECK_EVERY_S) -> None:
        self.kb_dir = Path(kb_dir)
        self._lock = threading.Lock()
        self._signature = kb_signature(self.kb_dir)
        self._snapshot = snapshot or load_snapshot(self.kb_dir)
        self.check_every_s = check_every_s
        self._checked_at = time.monotonic()

    @classmethod
    def of(cls, kb: KnowledgeBase) -> "LiveKb":
        """Serve an already loaded KB; later reloads read the directory it came from.

        A stand-in object without source files (front-end tests) is served as version
        "unversioned" from a directory that does not exist: a reload of it is refused.
        """
        sources = getattr(kb, "source_files", None) or {}
        if "common" not in sources:
            return cls(Path("/nonexistent-kb"), KbSnapshot(kb, "unversioned"))
        kb_dir = sources["common"].parent
        return cls(kb_dir, KbSnapshot(kb, kb_version(kb_dir)))

    @property
    def snapshot(self) -> KbSnapshot:
        return self._snapshot

    @property
    def kb(self) -> KnowledgeBase:
        return self._snapshot.kb

    @property
    def version(self) -> str:
        return self._snapshot.version

    def reload(self) -> KbSnapshot:
        """Load the directory again; raises KnowledgeBaseError (and keeps the old KB) if broken."""
        with self._lock:
            signature = kb_signature(self.kb_dir)
            snapshot = load_snapshot(self.kb_dir)
            self._signature, self._snapshot = signature, snapshot
        log.info("knowledge base reloaded: version %s", snapshot.version)
        return snapshot

    def refresh(self) -> KbSnapshot:
        """The current snapshot, reloaded first if a KB file changed since the last look
        (the files are looked at once every `check_every_s` at most)."""
        now = time.monotonic()
        if now - self._checked_at < self.check_every_s:
            return self._snapshot
        self._checked_at = now
        signature = kb_signature(self.kb_dir)
        if signature == self._signature:
            return self._snapshot
        with self._lock:
            if signature != self._signature:
                try:
                    self._snapshot = load_snapshot(self.kb_dir)
                    log.info("knowledge base reloaded: version %s", self._snapshot.version)
                except KnowledgeBaseError as err:
                    log.error("knowledge base not reloaded, version %s stays: %s", self._snapshot.version, err)
                self._signature = signature
        return self._snapshot
