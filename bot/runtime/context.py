"""What a process loads once at start-up and hands to the pure core (bot.kb).

- `get_extractor()`: the spaCy pipeline `make build` wrote (settings `FANZHA_SPACY_PIPELINE`,
  default build/spacy_zh), as a `SpacyExtractor`; when it is missing or older than its
  sources, an identical one is built in memory from the KB; without spaCy installed, the
  pure-regex extractor (logged).
- `get_blocklist()`: the block/allowlist store the settings name (bot.runtime.blocklist).
- `get_stage_model()`: the loss-stage model `make build` trained (settings `STAGE_MODEL_FILE`,
  default build/stage_model.json); when it is missing or broken, None — the core then judges
  the stage by the KB's rules alone, and a log line says so.
- `alert_store()`: the community alerts' store the settings name (REDIS_URL, else
  ALERTS_DB), opened on the first await in the process's event loop (the action server's).
- `live_kb()`: the KB of settings `KB_DIR` as a `LiveKb`; `current_kb()` is its snapshot's
  KB after a `refresh()` (one stat per KB file, once a second at most), so the action
  server serves a KB edit within a second (`make reload` reloads the gateway; every action
  server follows the files by itself, however many there are).

Both are made on first use and kept for the process; `reset_blocklist()` forgets the
store (tests, after changing its settings).
"""
from __future__ import annotations

import asyncio
import logging
import threading
from pathlib import Path
from typing import Optional

from bot.alerts import AlertStore, open_alert_store
from bot.kb import KnowledgeBase, default_kb
from bot.kb.blocklist import Blocklist
from bot.kb.extraction.entities import Extractor
from bot.kb.extraction.regex_extractor import RegexExtractor
from bot.kb.live import KbSnapshot, LiveKb
from bot.kb.loader import DEFAULT_KB_DIR
from bot.kb.stage import StageError, StageModel
from bot.runtime.blocklist import create_blocklist
from bot.settings import Settings

logger = logging.getLogger(__name__)
_lock = threading.Lock()
_extractor: Optional[Extractor] = None
_blocklist: Optional[Blocklist] = None
_stage_model: Optional[StageModel] = None
_stage_model_loaded = False
_live_kb: Optional[LiveKb] = None
_alert_store: Optional[AlertStore] = None
_alert_store_lock: Optional[asyncio.Lock] = None


def _sources_mtime() -> float:
    """The newest of the pipeline's sources: its code and the KB."""
    code = Path(__file__).resolve().parents[1] / "kb" / "extraction"
    files = [*code.glob("*.py"), *Path(DEFAULT_KB_DIR).rglob("*.yml")]
    return max((f.stat().st_mtime for f in files if f.exists()), default=0.0)


def load_extractor(settings: Settings) -> Extractor:
    """A new extractor as described above; processes use `get_extractor()`."""
    try:
        from bot.kb.extraction import spacy_pipeline
    except ImportError as err:  # spaCy is not installed in this environment
        logger.warning("indicator extraction: spaCy not available (%s); using the regex extractor", err)
        return RegexExtractor(default_kb())
    path = settings.spacy_pipeline_dir
    meta = path / "meta.json"
    if meta.exists():
        if settings.fanzha_spacy_pipeline or meta.stat().st_mtime >= _sources_mtime():
            logger.info("indicator pipeline: loading %s", path)
            return spacy_pipeline.SpacyExtractor(spacy_pipeline.load(path))
        logger.warning("indicator pipeline: %s is older than its sources; using a fresh one (run `make build`)", path)
    else:
        logger.info("indicator pipeline: %s not built; creating it in memory", path)
    return spacy_pipeline.SpacyExtractor(spacy_pipeline.create_pipeline(default_kb()))


def get_extractor(settings: Optional[Settings] = None) -> Extractor:
    """The extractor, loaded once per process."""
    global _extractor
    if _extractor is None:
        with _lock:
            if _extractor is None:
                _extractor = load_extractor(settings or Settings())
    return _extractor


def get_blocklist(settings: Optional[Settings] = None) -> Blocklist:
    """The process's blocklist store (built-ins: the project KB's official numbers)."""
    global _blocklist
    if _blocklist is None:
        with _lock:
            if _blocklist is None:
                _blocklist = create_blocklist(default_kb(), settings or Settings())
    return _blocklist


def reset_blocklist() -> None:
    global _blocklist
    with _lock:
        _blocklist = None


def load_stage_model(settings: Settings) -> Optional[StageModel]:
    """The trained loss-stage model, or None (rules only), logged either way."""
    path = settings.stage_model_file
    if not path.exists():
        logger.warning("loss stage: no model at %s (run `make build`); judging the stage by the KB rules only", path)
        return None
    try:
        model = StageModel.load(path)
    except StageError as err:
        logger.error("loss stage: %s; judging the stage by the KB rules only", err)
        return None
    logger.info("loss stage: model %s loaded from %s (%d features)", model.version, path, len(model.vocabulary))
    return model


def get_stage_model(settings: Optional[Settings] = None) -> Optional[StageModel]:
    """The loss-stage model, loaded once per process (None: rules only)."""
    global _stage_model, _stage_model_loaded
    if not _stage_model_loaded:
        with _lock:
            if not _stage_model_loaded:
                _stage_model = load_stage_model(settings or Settings())
                _stage_model_loaded = True
    return _stage_model


def open_live_kb(kb_dir: Path) -> LiveKb:
    """A new LiveKb of `kb_dir`; the project's data/kb starts from `default_kb()`'s object."""
    if Path(kb_dir).resolve() == Path(DEFAULT_KB_DIR).resolve():
        return LiveKb.of(default_kb())
    return LiveKb(kb_dir)


def live_kb(settings: Optional[Settings] = None) -> LiveKb:
    """The process's KB (settings `KB_DIR`), opened on first use (the action server's)."""
    global _live_kb
    if _live_kb is None:
        with _lock:
            if _live_kb is None:
                _live_kb = open_live_kb((settings or Settings()).kb_dir)
    return _live_kb


def current_snapshot() -> KbSnapshot:
    """The KB snapshot to serve now: reloaded first when a KB file changed."""
    return live_kb().refresh()


def current_kb() -> KnowledgeBase:
    return current_snapshot().kb


async def alert_store(settings: Optional[Settings] = None) -> AlertStore:
    """The process's alert store, opened on first use (in the running event loop)."""
    global _alert_store, _alert_store_lock
    if _alert_store is None:
        _alert_store_lock = _alert_store_lock or asyncio.Lock()
        async with _alert_store_lock:
            if _alert_store is None:
                settings = settings or Settings()
                _alert_store = await open_alert_store(settings.redis_url, settings.alerts_db, settings.alerts_redis_prefix)
    return _alert_store


WARM_UP_TEXT = "有人自称客服，让我把钱转到安全账户，我已经转了两千"


def warm_up() -> None:
    """Load and exercise now what the first turn would otherwise wait for: the spaCy pipeline,
    the stage model, the KB's compiled patterns (about 3 s on a busy machine, more than the
    gateway's degraded-mode budget)."""
    from bot.kb import assess

    assess(current_kb(), WARM_UP_TEXT, blocklist=get_blocklist(), extractor=get_extractor(),
           stage_model=get_stage_model())
    logger.info("warm-up done: the first turn loads nothing")


def warm_up_in_background() -> threading.Thread:
    """`warm_up()` on a daemon thread: the server starts listening meanwhile, and a request
    that arrives first waits on the same locks instead of loading things twice."""

    def run() -> None:
        try:
            warm_up()
        except Exception:  # noqa: BLE001 - a failed warm-up only means a slower first turn
            logger.exception("warm-up failed; the first turn loads what it needs")

    thread = threading.Thread(target=run, name="fanzha-warm-up", daemon=True)
    thread.start()
    return thread
