"""HTTP client for the Rasa server(s) and the action server.

One Rasa process, or several replicas sharing conversations through the Redis tracker and
lock stores (`make run PROFILE=prod`). With replicas, a sender's turns go to one replica
chosen by a hash of the sender id (its conversation stays warm there), and a turn whose
replica refuses the connection, times out or fails is tried once more on the next healthy
replica. Before that retry the client reads the conversation from the second replica: if
the first one had already stored the turn (it died after saving, before answering), the
stored replies are returned instead of sending the turn again (after a timeout the first
replica is alive but slow, so the store is watched for one more timeout before the turn is
sent again: resending under overload would only duplicate turns); and after a retried send a
turn stored twice is counted and logged as a duplicated turn.

Every turn carries a turn id in its metadata (`{"metadata": {"turn_id": ...}}`), with one
Rasa or several: Rasa's REST channel passes the request's `metadata` to the `UserMessage`,
and the processor stores it as the `metadata` of the turn's `user` event (rasa 3.6:
RestInput.get_metadata, MessageProcessor._handle_message_with_tracker), so the tracker
tells whether a turn was stored by its identity, never by its text. The caller may pass the
id (degraded mode resends a kept turn with the id it was first sent with).

Rasa's HTTP API runs with ``--auth-token`` (bot/runtime/stack.py): `token` is sent as Rasa
expects it, the ``token`` query parameter, on every call to Rasa (never to the action
server, which has no such token).
"""
from __future__ import annotations

import asyncio
import logging
import time
import uuid
import zlib
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence
from urllib.parse import quote

import aiohttp

log = logging.getLogger(__name__)

# A replica that failed a turn is passed over for this long (it is tried again afterwards,
# so a restarted replica rejoins by itself).
DOWN_FOR_S = 2.0
STORE_POLL_S = 0.25
KB_STATUS_ACTION = "action_kb_status"  # actions/kb_status.py  # how often a timed-out turn is looked for in the store
# Turn ids are letters only, so the log and tracker masking never mistakes one for a number.
_DIGITS_TO_LETTERS = str.maketrans("0123456789", "ghijklmnop")


class RasaUnavailable(RuntimeError):
    """Rasa did not answer (not started yet, restarting, or overloaded)."""


def new_turn_id() -> str:
    return uuid.uuid4().hex.translate(_DIGITS_TO_LETTERS)


@dataclass
class Replica:
    url: str
    down_until: float = 0.0
    turns: int = 0  # turns this replica answered
    failures: int = 0  # turns it failed (refused, timed out, error status)
    draining: bool = False  # loading a new model (swap_model): sent nothing new meanwhile
    in_flight: int = 0  # requests of this gateway it has not answered yet

    @property
    def name(self) -> str:
        return self.url.split("://", 1)[-1]

    def is_up(self, now: float) -> bool:
        return not self.draining and now >= self.down_until

    def as_dict(self, now: float) -> Dict[str, Any]:
        return {"url": self.url, "passed_over": not self.is_up(now), "turns": self.turns, "failures": self.failures,
                "reloading": self.draining}


class ModelSwapFailed(RuntimeError):
    """A replica refused the new model (it keeps the one it had; the later replicas were not asked)."""


def is_turn(event: Dict[str, Any], turn_id: str) -> bool:
    """Whether `event` is the user event of the turn `turn_id` (its id is in the metadata)."""
    return event.get("event") == "user" and (event.get("metadata") or {}).get("turn_id") == turn_id


def turn_replies(events: Sequence[Dict[str, Any]], turn_id: str,
                 recipient_id: Optional[str] = None) -> Optional[List[Dict[str, Any]]]:
    """The bot's messages (Rasa's REST shape) stored after the user turn `turn_id` in
    `events`, up to the next user event; None if the turn is not stored. A turn stored more
    than once (resent after a dead action server answered nothing): its latest copy."""
    for index in range(len(events) - 1, -1, -1):
        if is_turn(events[index], turn_id):
            replies: List[Dict[str, Any]] = []
            for later in events[index + 1:]:
                if later.get("event") == "user":
                    break
                if later.get("event") == "bot":
                    data = later.get("data") or {}
                    message: Dict[str, Any] = {"recipient_id": recipient_id}
                    if later.get("text"):
                        message["text"] = later["text"]
                    for key in ("buttons", "custom", "image", "attachment"):
                        if data.get(key) is not None:
                            message[key] = data[key]
                    replies.append(message)
            return replies
    return None


def replies_from_tracker(tracker: Dict[str, Any], turn_id: str) -> Optional[List[Dict[str, Any]]]:
    """The bot's messages stored after the user turn `turn_id`, or None if it is not stored."""
    return turn_replies(tracker.get("events") or [], turn_id, tracker.get("sender_id"))


def stored_count(tracker: Dict[str, Any], turn_id: str) -> int:
    """How many user events carry `turn_id` (more than one: a duplicated turn)."""
    return sum(1 for e in tracker.get("events") or [] if is_turn(e, turn_id))


class _Failed(Exception):
    """One replica failed one request (the turn may be retried elsewhere)."""

    def __init__(self, message: str, timed_out: bool = False) -> None:
        super().__init__(message)
        self.timed_out = timed_out


@dataclass
class RasaClient:
    rasa_url: str
    actions_url: str
    timeout_s: float = 10.0
    rasa_urls: Sequence[str] = ()
    token: str = ""  # Rasa's --auth-token (RASA_AUTH_TOKEN)
    single_turn_timeout_s: float = 300.0  # a turn on a single Rasa (nowhere to retry): see send()
    _session: Optional[aiohttp.ClientSession] = None
    replicas: List[Replica] = field(default_factory=list)
    counters: Dict[str, int] = field(default_factory=lambda: {"retried": 0, "recovered_from_store": 0, "duplicated": 0})

    def __post_init__(self) -> None:
        urls = [u.rstrip("/") for u in (self.rasa_urls or [self.rasa_url])]
        self.replicas = [Replica(u) for u in urls]
        self.rasa_url = urls[0]

    async def start(self) -> None:
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.timeout_s))

    async def close(self) -> None:
        if self._session:
            await self._session.close()

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            raise RuntimeError("RasaClient.start() was not awaited")
        return self._session

    def _auth(self, url: str, params: Optional[Dict[str, str]] = None) -> Dict[str, str]:
        """`params` plus Rasa's token, for a URL of Rasa (not of the action server)."""
        params = dict(params or {})
        if self.token and any(url.startswith(replica.url) for replica in self.replicas):
            params["token"] = self.token
        return params

    async def _request(self, method: str, url: str, payload: Optional[Dict[str, Any]] = None,
                       timeout_s: Optional[float] = None) -> Any:
        options: Dict[str, Any] = {"timeout": aiohttp.ClientTimeout(total=timeout_s)} if timeout_s else {}
        try:
            async with self.session.request(method, url, json=payload, params=self._auth(url), **options) as response:
                if response.status != 200:
                    raise _Failed(f"{url} answered HTTP {response.status}")
                return await response.json()
        except (aiohttp.ClientError, asyncio.TimeoutError) as err:
            raise _Failed(f"{url}: {err.__class__.__name__}", isinstance(err, asyncio.TimeoutError)) from err

    async def _post(self, url: str, payload: Dict[str, Any], timeout_s: Optional[float] = None) -> Any:
        try:
            return await self._request("POST", url, payload, timeout_s)
        except _Failed as err:
            raise RasaUnavailable(str(err)) from err

    def _order(self, sender: str) -> List[Replica]:
        """The sender's replica first, then the others around the ring; healthy ones first.
        A replica loading a model is left out (unless every one is)."""
        n = len(self.replicas)
        start = zlib.crc32(sender.encode("utf-8")) % n
        ring = [self.replicas[(start + i) % n] for i in range(n)]
        ring = [r for r in ring if not r.draining] or ring
        now = time.monotonic()
        return [r for r in ring if r.is_up(now)] + [r for r in ring if not r.is_up(now)]

    async def _on(self, replica: Replica, method: str, path: str, payload: Optional[Dict[str, Any]] = None) -> Any:
        """One request to one replica, counted while it runs (a model swap waits for these)."""
        replica.in_flight += 1
        try:
            return await self._request(method, f"{replica.url}{path}", payload)
        finally:
            replica.in_flight -= 1

    def _pick(self) -> Replica:
        now = time.monotonic()
        up = [r for r in self.replicas if r.is_up(now)]
        return min(up or self.replicas, key=lambda r: r.turns + r.failures)

    async def parse(self, text: str) -> Dict[str, Any]:
        """Rasa's NLU result: intent, entities and our `scam_ranking` (any replica will do)."""
        if len(self.replicas) == 1:
            return await self._post(f"{self.rasa_url}/model/parse", {"text": text})
        first = self._pick()
        others = [r for r in self._order(text) if r is not first]
        last: Optional[_Failed] = None
        for replica in [first] + others[:1]:
            try:
                result = await self._on(replica, "POST", "/model/parse", {"text": text})
                replica.turns += 1
                return result
            except _Failed as err:
                self._passed_over(replica, err)
                last = err
        raise RasaUnavailable(str(last))

    def _passed_over(self, replica: Replica, err: Exception) -> None:
        replica.failures += 1
        replica.down_until = time.monotonic() + DOWN_FOR_S
        log.warning("Rasa replica %s failed (%s); passing it over for %.0f s", replica.name, err, DOWN_FOR_S)

    async def _tracker(self, replica: Replica, sender: str) -> Optional[Dict[str, Any]]:
        try:
            return await self._request("GET", f"{replica.url}/conversations/{quote(sender, safe='')}/tracker")
        except _Failed:
            return None

    async def send(self, sender: str, message: str, turn_id: Optional[str] = None) -> List[Dict[str, Any]]:
        """One turn through Rasa's REST channel; returns the bot's messages.

        `turn_id` goes into the turn's metadata (a new one when not given): a resend of a
        turn must carry the id of its first send, so the tracker shows whether it is stored.
        A single Rasa gets `single_turn_timeout_s`: with no replica to retry on, an earlier
        give-up only makes it unknown whether Rasa stored the turn (a paused Rasa, or one
        waiting for a paused action server, stores it when it resumes)."""
        turn_id = turn_id or new_turn_id()
        payload = {"sender": sender, "message": message, "metadata": {"turn_id": turn_id}}
        if len(self.replicas) == 1:
            return await self._post(f"{self.rasa_url}/webhooks/rest/webhook", payload,
                                    timeout_s=self.single_turn_timeout_s)
        order = self._order(sender)[:2]  # the sender's replica, then one retry elsewhere
        last: Optional[_Failed] = None
        for attempt, replica in enumerate(order):
            if attempt:
                self.counters["retried"] += 1
                # A replica that timed out is alive but slow: it may still store the turn,
                # so wait for it in the store (up to another timeout) before sending the
                # turn again; one that refused or dropped the connection is looked up once.
                stored = await self._stored_replies(replica, sender, turn_id, wait=bool(last and last.timed_out))
                if stored is not None:
                    self.counters["recovered_from_store"] += 1
                    log.warning("turn already stored by the failed replica; answering from the store")
                    return stored
            try:
                replies = await self._on(replica, "POST", "/webhooks/rest/webhook", payload)
            except _Failed as err:
                self._passed_over(replica, err)
                last = err
                continue
            replica.turns += 1
            if attempt:
                await self._check_duplicate(replica, sender, turn_id)
            return replies
        raise RasaUnavailable(str(last))

    async def _stored_replies(self, replica: Replica, sender: str, turn_id: str, wait: bool) -> Optional[List[Dict[str, Any]]]:
        deadline = time.monotonic() + (self.timeout_s if wait else 0.0)
        while True:
            tracker = await self._tracker(replica, sender)
            stored = replies_from_tracker(tracker, turn_id) if tracker else None
            if stored is not None or time.monotonic() >= deadline:
                return stored
            await asyncio.sleep(STORE_POLL_S)

    async def _check_duplicate(self, replica: Replica, sender: str, turn_id: str) -> None:
        tracker = await self._tracker(replica, sender)
        if tracker and stored_count(tracker, turn_id) > 1:
            self.counters["duplicated"] += 1
            log.error("duplicated turn %s: the failed replica had processed it too", turn_id)

    async def tracker_events(self, sender: str) -> List[Dict[str, Any]]:
        """The conversation's events since its last restart (Rasa's HTTP API, --enable-api).

        Read from the sender's replica, else the next one: replicas share the store, and a
        dead first replica must not make a stored turn look unstored (it would be resent)."""
        last: Optional[Exception] = None
        for replica in self._order(sender)[:2]:
            url = f"{replica.url}/conversations/{quote(sender, safe='')}/tracker"
            try:
                async with self.session.get(url, params=self._auth(url, {"include_events": "AFTER_RESTART"})) as response:
                    if response.status != 200:
                        raise RasaUnavailable(f"{url} answered HTTP {response.status}")
                    return list((await response.json()).get("events") or [])
            except (aiohttp.ClientError, asyncio.TimeoutError, RasaUnavailable) as err:
                last = err
        raise RasaUnavailable(f"no replica gave the tracker: {last}") from last

    async def actions_ready(self) -> bool:
        return await self._is_ready(f"{self.actions_url}/health", timeout_s=1.0)

    async def _is_ready(self, url: str, timeout_s: float = 2.0) -> bool:
        try:
            async with self.session.get(url, params=self._auth(url),
                                        timeout=aiohttp.ClientTimeout(total=timeout_s)) as response:
                return response.status == 200
        except (aiohttp.ClientError, asyncio.TimeoutError):
            return False

    async def health(self) -> Dict[str, str]:
        """State of each component: 'ready' or 'unavailable' ('rasa': every replica ready).

        A replica loading a new model (swap_model) is shown as 'reloading' and does not make
        Rasa unavailable while the others are ready: it is out of service on purpose."""
        # /status answers 200 once a model is loaded (needs --enable-api).
        checks = [self._is_ready(f"{r.url}/status") for r in self.replicas]
        *rasa_ok, actions_ok = await asyncio.gather(*checks, self._is_ready(f"{self.actions_url}/health"))
        serving = [ok for replica, ok in zip(self.replicas, rasa_ok) if not replica.draining]
        states = {"rasa": "ready" if serving and all(serving) else "unavailable"}
        if len(self.replicas) > 1:
            for replica, ok in zip(self.replicas, rasa_ok):
                states[f"rasa@{replica.name}"] = "reloading" if replica.draining else "ready" if ok else "unavailable"
        states["actions"] = "ready" if actions_ok else "unavailable"
        return states

    async def model_status(self, replica: Replica) -> Dict[str, Any]:
        """Rasa's /status of one replica (`model_file`, `model_id`), {} if it does not answer."""
        try:
            body = await self._request("GET", f"{replica.url}/status")
        except _Failed:
            return {}
        return {"model_file": body.get("model_file"), "model_id": body.get("model_id")}

    async def swap_model(self, model_file: str, load_timeout_s: float = 300.0) -> List[Dict[str, Any]]:
        """Every replica loads `model_file` (Rasa's PUT /model), one at a time.

        Before its load a replica is drained: no new turn goes to it (the others take them,
        sharing conversations through Redis) and the turns it has are awaited, because Rasa
        loads a model inside its event loop and answers nothing meanwhile. With a single Rasa
        there is nowhere else to go: its turns get the degraded reply during the load."""
        done: List[Dict[str, Any]] = []
        for replica in self.replicas:
            done.append(await self._swap_one(replica, model_file, load_timeout_s))
        return done

    async def _swap_one(self, replica: Replica, model_file: str, load_timeout_s: float) -> Dict[str, Any]:
        started = time.monotonic()
        before = await self.model_status(replica)
        replica.draining = len(self.replicas) > 1
        try:
            while replica.in_flight and time.monotonic() - started < self.timeout_s:
                await asyncio.sleep(0.05)
            drained_s = time.monotonic() - started
            url = f"{replica.url}/model"
            try:
                async with self.session.put(url, json={"model_file": model_file}, params=self._auth(url),
                                            timeout=aiohttp.ClientTimeout(total=load_timeout_s)) as response:
                    if response.status not in (200, 204):
                        raise ModelSwapFailed(f"{replica.name} refused the model (HTTP {response.status}): "
                                              f"{(await response.text())[:500]}")
            except (aiohttp.ClientError, asyncio.TimeoutError) as err:
                raise ModelSwapFailed(f"{replica.name} did not load the model: {err.__class__.__name__}") from err
            after = await self.model_status(replica)
        finally:
            replica.draining = False
        log.info("Rasa replica %s serves %s (was %s)", replica.name, after.get("model_id"), before.get("model_id"))
        return {"replica": replica.name, "before": before, "after": after,
                "drained_s": round(drained_s, 2), "seconds": round(time.monotonic() - started, 2)}

    async def actions_kb(self) -> Optional[Dict[str, Any]]:
        """The action server's KB `{"version", "types"}` (actions/kb_status.py), None if it does not answer.

        Asked through the action server's own webhook, the way Rasa runs an action: the
        action checks the KB files first, so the answer is the KB its next action uses.
        """
        payload = {"next_action": KB_STATUS_ACTION, "sender_id": KB_STATUS_ACTION, "domain": {},
                   "tracker": {"sender_id": KB_STATUS_ACTION, "slots": {}, "latest_message": {}, "events": []}}
        try:
            body = await self._request("POST", f"{self.actions_url}/webhook", payload)
        except _Failed:
            return None
        for message in body.get("responses") or []:
            kb = (message.get("custom") or {}).get("kb")
            if isinstance(kb, dict):
                return kb
        return None

    def replica_report(self) -> Dict[str, Any]:
        """Per-replica turn counts and the fail-over counters (shown by /healthz with replicas)."""
        now = time.monotonic()
        return {"replicas": [r.as_dict(now) for r in self.replicas], "turns": dict(self.counters)}
