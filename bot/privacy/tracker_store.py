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

import asyncio
import logging
import time
from typing import Any, Iterable, Optional, Text

import redis
from rasa.core.tracker_store import InMemoryTrackerStore, RedisTrackerStore, TrackerStore
from rasa.shared.core.conversation import Dialogue
from rasa.shared.core.domain import Domain

from bot.privacy import install_log_masking, mask_data

log = logging.getLogger(__name__)
# How long a save waits for Redis to come back (a restart takes a second or two). Rasa's
# REST channel still sends the replies its actions produced when the save fails, so a
# failed save is an answered turn missing from the stored conversation: worth waiting for.
SAVE_RETRY_S = 10.0
_REDIS_DOWN = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)


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
        **kwargs: Any,
    ) -> None:
        super().__init__(domain, event_broker, **kwargs)
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

    async def save(self, tracker) -> None:
        masked = mask_tracker(tracker, self)
        await self.stream_events(masked)
        deadline = time.monotonic() + SAVE_RETRY_S
        delay = 0.1
        while True:
            try:
                await self._inner.save(masked)
                return
            except _REDIS_DOWN as err:
                if time.monotonic() + delay > deadline:
                    raise
                log.warning("tracker store unreachable (%s); saving again in %.1f s", err.__class__.__name__, delay)
                await asyncio.sleep(delay)
                delay = min(1.0, delay * 2)

    async def retrieve(self, sender_id: Text):
        return await self._inner.retrieve(sender_id)

    async def retrieve_full_tracker(self, conversation_id: Text):
        return await self._inner.retrieve_full_tracker(conversation_id)

    async def keys(self) -> Iterable[Text]:
        return await self._inner.keys()

    async def exists(self, conversation_id: Text) -> bool:
        return await self._inner.exists(conversation_id)
