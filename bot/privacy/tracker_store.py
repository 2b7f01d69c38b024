"""A Rasa tracker store that masks user and bot texts, parse data, slot values and metadata
before anything is persisted (or streamed to an event broker).

The live reply is built from the in-memory tracker of the current turn, so it can still
quote what the person wrote; only what is stored is masked. Only Rasa imports this
module (endpoints.yml names it); `bot.privacy` itself imports no Rasa.

endpoints.yml (in memory):                  endpoints.production.yml (Redis):
    tracker_store:                              tracker_store:
      type: bot.privacy.tracker_store.MaskingTrackerStore
                                                  type: bot.privacy.tracker_store.MaskingTrackerStore
                                                  url: ${REDIS_HOST}
                                                  port: ${REDIS_PORT}
                                                  db: ${REDIS_TRACKER_DB}
                                                  key_prefix: fanzha
Rasa builds it as `MaskingTrackerStore(host=url, domain=…, event_broker=…, **other keys)`
(rasa.core.tracker_store._load_from_module_name_in_endpoint_config): with a host it
keeps conversations in Redis, without one in memory.
"""
from __future__ import annotations

import json
import time
from typing import Any, Iterable, Optional, Text

from rasa.core.tracker_store import InMemoryTrackerStore, RedisTrackerStore, TrackerStore
from rasa.shared.core.conversation import Dialogue
from rasa.shared.core.domain import Domain

from bot.privacy import install_log_masking, mask_data


def mask_tracker(tracker, template):
    """A new tracker with the same events, masked (the original is left untouched)."""
    dialogue = tracker.as_dialogue().as_dict()
    dialogue["events"] = [mask_data(event) for event in dialogue.get("events", [])]
    masked = template.init_tracker(tracker.sender_id)
    masked.recreate_from_dialogue(Dialogue.from_parameters(dialogue))
    return masked


class MaskingTrackerStore(TrackerStore):
    """Stores conversations with personal data masked (in memory, or in Redis with a host)."""

    def __init__(
        self,
        domain=None,
        host: Optional[Text] = None,
        event_broker=None,
        store_type: Optional[Text] = None,
        timing_log: Optional[Text] = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(domain, event_broker, **kwargs)
        # `make bench` writes its own endpoints file with `timing_log: <path>`: one JSON
        # line per retrieve and save (milliseconds, events), nothing about the sender.
        self._timing_log = open(timing_log, "a", encoding="utf-8") if timing_log else None
        if host or store_type == "redis":
            self._inner = RedisTrackerStore(domain=domain, host=host or "localhost", event_broker=None, **kwargs)
        else:
            self._inner = InMemoryTrackerStore(domain)
        install_log_masking()

    @property
    def inner(self):
        """The store that holds the (masked) conversations."""
        return self._inner

    @property
    def domain(self):
        return self._domain

    @domain.setter
    def domain(self, domain) -> None:
        self._domain = domain or Domain.empty()
        if hasattr(self, "_inner"):
            self._inner.domain = self._domain

    def _timed(self, op: str, started: float, **fields: Any) -> None:
        if self._timing_log is not None:
            record = {"op": op, "ms": round((time.perf_counter() - started) * 1000, 3), **fields}
            self._timing_log.write(json.dumps(record) + "\n")
            self._timing_log.flush()

    async def save(self, tracker) -> None:
        started = time.perf_counter()
        masked = mask_tracker(tracker, self)
        mask_ms = round((time.perf_counter() - started) * 1000, 3)
        await self.stream_events(masked)
        await self._inner.save(masked)
        self._timed("save", started, mask_ms=mask_ms, events=len(tracker.events))

    async def retrieve(self, sender_id: Text):
        started = time.perf_counter()
        tracker = await self._inner.retrieve(sender_id)
        self._timed("retrieve", started, events=len(tracker.events) if tracker else 0)
        return tracker

    async def retrieve_full_tracker(self, conversation_id: Text):
        return await self._inner.retrieve_full_tracker(conversation_id)

    async def keys(self) -> Iterable[Text]:
        return await self._inner.keys()

    async def exists(self, conversation_id: Text) -> bool:
        return await self._inner.exists(conversation_id)
