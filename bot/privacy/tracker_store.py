"""A Rasa tracker store that masks user and bot texts, parse data, slot values and metadata
before anything is persisted (or streamed to an event broker), and keeps each
conversation bounded.

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
keeps conversations in Redis, without one in memory. Optional keys: `kept_turns` (how
many of the resident's latest turns a stored conversation keeps, default KEPT_TURNS) and
`timing_log` (a file that gets one JSON line per retrieve and save; `make bench`).

Why bounded: Rasa reads, replays, featurises, sends to the action server and writes back
the whole stored conversation on every turn, so a resident's 300th turn cost ten times
their first. A stored conversation is now a fresh start carrying the slot values (the
self-check's whole state lives in slots, see actions/state.py) followed by the latest
`kept_turns` user turns; nothing in the dialogue looks further back (the rules look at
the latest turn and the slots, the fallback at the previous user turn).

Why the masking is incremental: the events read at the start of a turn are the stored,
already masked ones; only the events Rasa added during the turn are masked on save.
"""
from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import Any, Awaitable, Callable, Dict, Iterable, List, Mapping, Optional, Sequence, Text, Tuple

import redis
from cachetools import LRUCache
from rasa.core.tracker_store import InMemoryTrackerStore, RedisTrackerStore, TrackerStore
from rasa.shared.core.conversation import Dialogue
from rasa.shared.core.domain import Domain

from bot.privacy import install_log_masking, mask_data

log = logging.getLogger(__name__)
# How long a save or a retrieve waits for Redis to come back (a restart takes a second or two).
# Rasa's REST channel still sends the replies its actions produced when the save fails, so a
# failed save is an answered turn missing from the stored conversation: worth waiting for. A
# failed retrieve is worse: Rasa goes on with an empty conversation (its fail-safe store) and
# the save after it would replace the resident's whole stored check with that one turn.
SAVE_RETRY_S = 10.0
_REDIS_DOWN = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)
# The resident's latest turns a stored conversation keeps (a self-check takes 2–5).
KEPT_TURNS = 10
# Conversations whose masked prefix this process remembers (sender -> events, last one).
MASKED_PREFIXES = 10_000
# Events that forget every slot before them.
_RESETS = {"restart", "reset_slots", "session_started"}


def mask_tracker(tracker, template):
    """A new tracker with the same events, masked (the original is left untouched)."""
    dialogue = tracker.as_dialogue().as_dict()
    dialogue["events"] = [mask_data(event) for event in dialogue.get("events", [])]
    masked = template.init_tracker(tracker.sender_id)
    masked.recreate_from_dialogue(Dialogue.from_parameters(dialogue))
    return masked


def _event_key(event: Mapping[str, Any]) -> Tuple[Any, Any]:
    return event.get("event"), event.get("timestamp")


def bounded_events(events: Sequence[Dict[str, Any]], kept_turns: int) -> List[Dict[str, Any]]:
    """`events` (serialised) cut to the latest `kept_turns` user turns, after a fresh
    session start that sets every slot to its value at the cut.

    Shorter conversations come back unchanged (the same list object's items).
    """
    users = [i for i, event in enumerate(events) if event.get("event") == "user"]
    if len(users) <= kept_turns:
        return list(events)
    cut = users[-kept_turns]
    slots: Dict[str, Any] = {}
    for event in events[:cut]:
        kind = event.get("event")
        if kind in _RESETS:
            slots = {}
        elif kind == "slot":
            slots[event.get("name")] = event.get("value")
    stamp = events[cut - 1].get("timestamp") or events[cut].get("timestamp")
    start: List[Dict[str, Any]] = [
        {"event": "action", "timestamp": stamp, "name": "action_session_start",
         "policy": None, "confidence": 1.0},
        {"event": "session_started", "timestamp": stamp},
    ]
    start += [
        {"event": "slot", "timestamp": stamp, "name": name, "value": value}
        for name, value in slots.items() if value is not None
    ]
    start.append({"event": "action", "timestamp": stamp, "name": "action_listen",
                  "policy": None, "confidence": 1.0})
    return start + list(events[cut:])


class MaskingTrackerStore(TrackerStore):
    """Stores conversations with personal data masked and their history bounded
    (in memory, or in Redis with a host)."""

    def __init__(
        self,
        domain=None,
        host: Optional[Text] = None,
        event_broker=None,
        store_type: Optional[Text] = None,
        kept_turns: int = KEPT_TURNS,
        timing_log: Optional[Text] = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(domain, event_broker, **kwargs)
        if host or store_type == "redis":
            self._inner = RedisTrackerStore(domain=domain, host=host or "localhost", event_broker=None, **kwargs)
        else:
            self._inner = InMemoryTrackerStore(domain)
        self.kept_turns = max(2, int(kept_turns))
        # sender -> (number of events, key of the last one) of the masked tracker last
        # read or written here: those events need no masking again.
        self._masked: LRUCache = LRUCache(maxsize=MASKED_PREFIXES)
        # `make bench` writes its own endpoints file with `timing_log: <path>`: one JSON
        # line per retrieve and save (milliseconds, events), nothing about the sender.
        self._timing_log = open(timing_log, "a", encoding="utf-8") if timing_log else None
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

    def _masked_events(self, sender_id: Text, events: List[Dict[str, Any]]) -> Tuple[List[Dict[str, Any]], int]:
        """`events` with personal data masked, and how many were masked now: the prefix
        read from (or written to) this store is masked already."""
        known = self._masked.get(sender_id)
        done = 0
        if known and 0 < known[0] <= len(events) and _event_key(events[known[0] - 1]) == known[1]:
            done = known[0]
        return events[:done] + [mask_data(event) for event in events[done:]], len(events) - done

    async def _while_redis_restarts(self, what: str, call: Callable[[], Awaitable[Any]]) -> Any:
        """`call()`, again (0.1 s, doubling to 1 s) while Redis is unreachable, for SAVE_RETRY_S."""
        deadline = time.monotonic() + SAVE_RETRY_S
        delay = 0.1
        while True:
            try:
                return await call()
            except _REDIS_DOWN as err:
                if time.monotonic() + delay > deadline:
                    raise
                log.warning("tracker store unreachable (%s); %s again in %.1f s", err.__class__.__name__, what, delay)
                await asyncio.sleep(delay)
                delay = min(1.0, delay * 2)

    async def _write(self, sender_id: str, serialised: str) -> None:
        """Store one conversation, waiting for a Redis that is restarting."""

        async def write() -> None:
            if isinstance(self._inner, RedisTrackerStore):
                # Not RedisTrackerStore.save: it reads the stored conversation back and
                # merges it event by event (quadratic), to keep sessions a retrieve left
                # out; a bounded conversation keeps only its latest turns anyway.
                self._inner.red.set(self._inner.key_prefix + sender_id, serialised, ex=self._inner.record_exp)
            else:
                self._inner.store[sender_id] = serialised

        await self._while_redis_restarts("saving", write)

    async def save(self, tracker) -> None:
        started = time.perf_counter()
        sender_id = tracker.sender_id
        dialogue = tracker.as_dialogue().as_dict()
        events, masked_now = self._masked_events(sender_id, dialogue.get("events") or [])
        mask_ms = round((time.perf_counter() - started) * 1000, 3)
        dialogue["events"] = bounded_events(events, self.kept_turns)
        if self.event_broker is not None:
            masked = self.init_tracker(sender_id)
            masked.recreate_from_dialogue(Dialogue.from_parameters(dialogue))
            await self.stream_events(masked)
        await self._write(sender_id, json.dumps(dialogue))
        if dialogue["events"]:
            self._masked[sender_id] = (len(dialogue["events"]), _event_key(dialogue["events"][-1]))
        self._timed("save", started, mask_ms=mask_ms, events=len(dialogue["events"]), masked=masked_now)

    async def retrieve(self, sender_id: Text):
        started = time.perf_counter()
        tracker = await self._while_redis_restarts("reading", lambda: self._inner.retrieve(sender_id))
        if tracker is not None and tracker.events:
            last = tracker.events[-1]
            self._masked[sender_id] = (len(tracker.events), (last.type_name, last.timestamp))
        self._timed("retrieve", started, events=len(tracker.events) if tracker else 0)
        return tracker

    async def retrieve_full_tracker(self, conversation_id: Text):
        return await self._inner.retrieve_full_tracker(conversation_id)

    async def keys(self) -> Iterable[Text]:
        return await self._inner.keys()

    async def exists(self, conversation_id: Text) -> bool:
        return await self._inner.exists(conversation_id)
