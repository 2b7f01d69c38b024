"""Degraded mode: when Rasa or the action server does not answer, the resident still learns
what to do now, and nothing they typed is lost.

- A chat turn gets `degraded_after_s` (3 s) for everything Rasa has to do in it. When Rasa
  does not answer in time (paused, killed, restarting, overloaded), or answers with nothing
  because the action server is down, the reply is computed here from bot.kb alone — the
  verdict engine needs no Rasa: the urgent steps first when the text says money is gone,
  the risk level and type when the red flags allow one, and always 110 (money already sent)
  and 96110 (to ask).
- The message is kept (`PendingStore`: a bounded queue per sender, in Redis when
  `REDIS_URL` is set so every gateway replica sees it, else in memory) and replayed to Rasa,
  in order, at the sender's next turn once Rasa answers again; their "是" then continues
  the same check instead of starting over. A tapped or typed 「接着查」 only replays.
- A message that timed out may still have reached Rasa (a paused process reads its socket
  when it resumes). Each turn has a turn id, sent in the metadata of every send of it (the
  first and each resend); before resending, the tracker is read, and when a user event
  carries that id, the bot's answers after it are given instead of a second copy. By id,
  not by text: a resident who sends the same text twice (「/unsure」, 「/unsure」) has two
  turns, and the first one stored must not make the second one look stored.
- The resident's wait running out never cancels the request to Rasa: Rasa (Sanic) cancels
  a turn whose caller hangs up, so cancelling it would drop a turn the resident already got
  a reply to. The request goes on in the background (at most one per sender: the sender's
  next turn waits for it, within its own budget, and otherwise is kept behind it).
- Kept messages are also delivered in the background (after 1 s, doubling up to 30 s,
  for PENDING_TTL_S), so a resident who never comes back still has every turn they got a
  reply to in the stored conversation. Delivered messages stay kept, marked as possibly
  delivered: the next turn shows Rasa's answers to them from the tracker, not a resend.
"""
from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import deque
from dataclasses import asdict, dataclass, replace
from typing import Any, Deque, Dict, List, Optional, Protocol, Sequence, Set, Tuple

import aiohttp
from aiohttp import web
from cachetools import TTLCache

from bot.gateway.keys import BLOCKLIST_KEY, RASA_KEY, SETTINGS_KEY, STAGE_MODEL_KEY, current_kb
from bot.gateway.rasa_client import RasaClient, RasaUnavailable, new_turn_id, turn_replies
from bot.kb import KnowledgeBase, assess, loss_steps
from bot.kb.blocklist import Blocklist
from bot.kb.models import NON_SCAM_TYPES
from bot.kb.stage import StageModel
from bot.kb.verdict import Verdict
from bot.kb.wording import DO_NOW, WHY, flag_line, risk_label
from bot.settings import Settings

log = logging.getLogger(__name__)

# -- the residents' words ---------------------------------------------------------------------

BUSY = "助手这会儿有点忙，完整的分析稍后接着做。您说的话我记下了，不用重打。"
STOP_FIRST = "先停一停：不转账，不说验证码，不点链接"  # when the text gives no advice of its own
ALWAYS = (
    "钱已经转出去了：马上打 {police} 报警",
    "拿不准是不是诈骗：打 {antifraud} 反诈专线问一问",
)
CONTINUE_TITLE = "接着查"
CONTINUE_HINT = "过一会儿点「接着查」（或回复“接着查”），我接着帮您看。"
CONTINUE_WORDS = frozenset({"接着查", "接著查", "继续", "繼續", "继续自查", "繼續自查"})
CONTINUE_BUTTONS = [{"title": CONTINUE_TITLE, "payload": CONTINUE_TITLE}]
MAX_FLAGS = 2
MAX_ADVICE = 3
# Fallback numbers only if hotlines.yml ever lost these ids (the loader requires hotlines).
POLICE_ID, ANTIFRAUD_ID = "police_110", "antifraud_96110"

# Leave this much of the resident's 4 s for the reply computed here and the network.
MIN_CALL_S = 0.2
# Background delivery of kept messages: first try, back-off cap (Rasa restarts take ~30 s).
REDELIVER_FIRST_S = 1.0
REDELIVER_MAX_S = 30.0


def _number(kb: KnowledgeBase, hotline_id: str, default: str) -> str:
    hotline = kb.hotlines.get(hotline_id)
    return (hotline.number if hotline and hotline.number else None) or default


def degraded_verdict(
    kb: KnowledgeBase, text: str, blocklist: Optional[Blocklist] = None, stage_model: Optional[StageModel] = None
) -> Verdict:
    """The verdict without Rasa: red flags, the loss stage, regex indicators (bot.kb alone)."""
    return assess(kb, text, blocklist=blocklist, stage_model=stage_model)


def degraded_messages(
    kb: KnowledgeBase,
    texts: Sequence[str],
    blocklist: Optional[Blocklist] = None,
    stage_model: Optional[StageModel] = None,
) -> List[Dict[str, Any]]:
    """The reply when Rasa cannot give one, in the chat contract (`text`, `buttons`, `custom`).

    `texts`: everything the resident said that Rasa has not seen yet, oldest first; judged
    together, so a "是" after a kept description still gets that description's verdict."""
    police = _number(kb, POLICE_ID, "110")
    antifraud = _number(kb, ANTIFRAUD_ID, "96110")
    verdict = degraded_verdict(kb, "\n".join(t for t in texts if t.strip()), blocklist, stage_model)
    messages: List[Dict[str, Any]] = []
    steps = loss_steps(kb, verdict)
    if steps:  # money or codes gone, or still on the line: the chat's urgent message first
        messages.append({"text": "\n".join(steps.message_lines())})
    lines = []
    judged = verdict.scam_type not in NON_SCAM_TYPES or bool(verdict.red_flags) or verdict.money_lost
    if judged:
        lines.append(f"{risk_label(verdict.risk_level)} · {verdict.scam_name}")
        if verdict.red_flags:
            lines.append(WHY)
            for hit in verdict.red_flags[:MAX_FLAGS]:
                lines.append(flag_line(hit.quote, hit.description))
    lines.append(BUSY)
    lines.append(DO_NOW)
    advice = [a for a in steps.lead(verdict.advice) if a not in steps.lines][:MAX_ADVICE] if judged else []
    advice = advice or [STOP_FIRST]
    always = [a.format(police=police, antifraud=antifraud) for a in ALWAYS]
    lines.extend(f"{i}. {a}" for i, a in enumerate(list(dict.fromkeys(advice + always)), start=1))
    messages.append({"text": "\n".join(lines)})
    messages.append({"text": CONTINUE_HINT, "buttons": list(CONTINUE_BUTTONS),
                     "custom": {"degraded": True, "risk_level": verdict.risk_level if judged else None}})
    return messages


def fixed_messages(kb: object = None) -> List[Dict[str, Any]]:
    """The degraded reply without a verdict: what to do now and whom to call."""
    police, antifraud = "110", "96110"
    if isinstance(kb, KnowledgeBase):
        police, antifraud = _number(kb, POLICE_ID, police), _number(kb, ANTIFRAUD_ID, antifraud)
    lines = [BUSY, DO_NOW, f"1. {STOP_FIRST}"]
    lines += [f"{i}. {a.format(police=police, antifraud=antifraud)}" for i, a in enumerate(ALWAYS, start=2)]
    return [{"text": "\n".join(lines)},
            {"text": CONTINUE_HINT, "buttons": list(CONTINUE_BUTTONS), "custom": {"degraded": True, "risk_level": None}}]


# -- the kept messages ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Pending:
    message: str
    maybe_delivered: bool  # timed out: Rasa may have read it (check the tracker first)
    turn_id: str  # in the metadata of every send of this turn: how the tracker shows it stored

    @classmethod
    def from_dict(cls, data: Dict[str, Any]) -> "Pending":
        # Kept before turns had ids ({"message", "sent_at", "maybe_delivered"}): Rasa got no
        # id with it, so nothing in the tracker can be told to be it. A fresh id makes it
        # look unstored, so it is sent again: at worst a duplicated turn, never a lost one.
        return cls(str(data["message"]), bool(data.get("maybe_delivered")), str(data.get("turn_id") or new_turn_id()))


class PendingStore(Protocol):
    async def push(self, sender: str, items: Sequence[Pending]) -> None: ...

    async def take(self, sender: str) -> List[Pending]: ...


class MemoryPendingStore:
    """Per-sender queues in this process: at most `max_items` each (the oldest dropped)."""

    def __init__(self, max_items: int, ttl_s: float, max_senders: int = 10_000) -> None:
        self.max_items = max_items
        self._queues: TTLCache = TTLCache(max_senders, ttl_s)

    async def push(self, sender: str, items: Sequence[Pending]) -> None:
        queue: Deque[Pending] = self._queues.get(sender) or deque(maxlen=self.max_items)
        queue.extend(items)
        self._queues[sender] = queue  # re-setting renews the TTL

    async def take(self, sender: str) -> List[Pending]:
        return list(self._queues.pop(sender, None) or ())


class RedisPendingStore:
    """Per-sender Redis lists `{prefix}{sender}`: trimmed to `max_items`, expiring after `ttl_s`;
    `take` reads and deletes in one transaction, so two gateways never replay the same message."""

    def __init__(self, url: str, max_items: int, ttl_s: float, prefix: str = "fzzc:pending:") -> None:
        import redis.asyncio as aioredis

        self._redis = aioredis.from_url(url, socket_timeout=1.0, socket_connect_timeout=1.0)
        self.max_items, self.ttl_s, self.prefix = max_items, int(ttl_s), prefix

    async def push(self, sender: str, items: Sequence[Pending]) -> None:
        key = self.prefix + sender
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.rpush(key, *[json.dumps(asdict(i), ensure_ascii=False) for i in items])
            pipe.ltrim(key, -self.max_items, -1)
            pipe.expire(key, self.ttl_s)
            await pipe.execute()

    async def take(self, sender: str) -> List[Pending]:
        key = self.prefix + sender
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.lrange(key, 0, -1)
            pipe.delete(key)
            raw, _ = await pipe.execute()
        return [Pending.from_dict(json.loads(r)) for r in raw]

    async def ping(self) -> bool:
        try:
            return bool(await self._redis.ping())
        except Exception:  # noqa: BLE001 - any failure means "not now"
            return False

    async def close(self) -> None:
        await self._redis.close()


# -- the turn ---------------------------------------------------------------------------------------


class StillWithRasa(asyncio.TimeoutError):
    """The resident's wait ran out while Rasa still has the turn (it goes on in the background)."""


class DegradedChat:
    """Chat turns that never leave a resident without an answer (see the module docstring)."""

    def __init__(self, app: web.Application, store: PendingStore, budget_s: float, keep_s: float = 3600.0) -> None:
        self._app, self.store, self.budget_s, self.keep_s = app, store, budget_s, keep_s
        self._locks: TTLCache = TTLCache(10_000, 600)
        self._in_flight: Dict[str, asyncio.Task] = {}  # sender -> the request Rasa still has
        self._delivering: Dict[str, asyncio.Task] = {}  # sender -> background delivery of kept messages
        self._unkept: Dict[str, List[Pending]] = {}  # kept messages the store refused (Redis down)
        self._tasks: Set[asyncio.Task] = set()

    # Read from the app at each turn: what the app holds now (a test may swap the client).
    @property
    def rasa(self) -> RasaClient:
        return self._app[RASA_KEY]

    @property
    def kb(self) -> KnowledgeBase:
        return current_kb(self._app)

    @property
    def blocklist(self) -> Optional[Blocklist]:
        return self._app.get(BLOCKLIST_KEY)

    @property
    def delivering(self) -> int:
        """Senders whose kept messages are not yet delivered, or whose turn Rasa still has."""
        return len(set(self._delivering) | set(self._in_flight) | set(self._unkept))

    async def _take(self, sender: str) -> List[Pending]:
        """The sender's kept messages, oldest first (those held here come before the store's)."""
        items = self._unkept.pop(sender, [])
        try:
            return items + await self.store.take(sender)
        except Exception:  # noqa: BLE001 - without the store the turn still goes to Rasa
            log.exception("degraded mode: could not read the kept messages")
            return items

    async def _keep(self, sender: str, items: Sequence[Pending]) -> None:
        """Into the store, in order; what it refuses (Redis down) is held here until it answers."""
        if not items:
            return
        try:
            await self.store.push(sender, items)
        except Exception:  # noqa: BLE001 - a store outage must not cost the resident the reply
            log.warning("degraded mode: could not keep %d message(s) in the store; holding them here", len(items))
            held = self._unkept.setdefault(sender, [])
            held.extend(items)
            del held[:-max(1, getattr(self.store, "max_items", len(held)))]

    def _lock(self, sender: str) -> asyncio.Lock:
        lock = self._locks.get(sender)
        if lock is None:
            lock = self._locks[sender] = asyncio.Lock()
        return lock

    def _spawn(self, coro: Any) -> asyncio.Task:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        # A request the resident stopped waiting for may fail unseen: its retry is ours.
        task.add_done_callback(lambda t: t.cancelled() or t.exception())
        return task

    async def _call(self, deadline: float, sender: str, message: str, turn_id: str) -> List[Dict[str, Any]]:
        remaining = deadline - time.monotonic()
        if remaining < MIN_CALL_S:
            raise asyncio.TimeoutError()
        # Not wait_for: cancelling would close the connection, and Rasa drops a turn whose
        # caller hung up. The request runs to its end; the resident stops waiting for it.
        task = self._spawn(self.rasa.send(sender, message, turn_id))
        self._in_flight[sender] = task
        task.add_done_callback(lambda t: self._in_flight.pop(sender, None) if self._in_flight.get(sender) is t else None)
        done, _ = await asyncio.wait({task}, timeout=remaining)
        if not done:
            raise StillWithRasa()
        replies = task.result()
        if not replies and not await self.rasa.actions_ready():
            # Rasa ran the turn, but the action server did not: the check did not move on.
            raise RasaUnavailable("the action server is unavailable (Rasa answered with nothing)")
        return replies

    async def _settled(self, sender: str, deadline: float) -> bool:
        """Wait (until `deadline`) for a request Rasa still has for this sender; True when none is left."""
        task = self._in_flight.get(sender)
        if task is not None:
            await asyncio.wait({task}, timeout=max(0.0, deadline - time.monotonic()))
        return sender not in self._in_flight or self._in_flight[sender].done()

    async def _stored_replies(self, deadline: float, sender: str, item: Pending) -> Optional[List[Dict[str, Any]]]:
        """The bot's answers to `item` if Rasa already stored it (its turn id is in the tracker)
        with answers, else None: it is to be sent (again). Stored without an answer, the turn
        met a dead action server (Rasa stores the turn and answers nothing): sent again, so
        the check goes on once the actions answer (at the cost of the text stored twice)."""
        remaining = deadline - time.monotonic()
        try:
            events = await asyncio.wait_for(self.rasa.tracker_events(sender), timeout=max(remaining, MIN_CALL_S))
        except RasaUnavailable as err:
            if not isinstance(err.__cause__, RasaUnavailable):
                # Not reachable or too slow: a paused Rasa may still store the turn; keep it.
                raise
            # Rasa answered, but not with the tracker (no HTTP API): resending is all there is.
            log.warning("degraded mode: could not read the tracker (%s); resending", err)
            return None
        return turn_replies(events, item.turn_id, sender) or None

    async def _replay(self, deadline: float, sender: str, item: Pending) -> List[Dict[str, Any]]:
        if item.maybe_delivered:
            replies = await self._stored_replies(deadline, sender, item)
            if replies:
                return replies
        return await self._call(deadline, sender, item.message, item.turn_id)

    async def turn(self, sender: str, message: str) -> Tuple[List[Dict[str, Any]], bool]:
        """The bot's messages for one turn (Rasa's REST shape) and whether they are degraded."""
        deadline = time.monotonic() + self.budget_s  # waiting behind a background delivery counts
        turn_id = new_turn_id()  # this turn's identity in the tracker, kept with it if it is kept
        async with self._lock(sender):
            if not await self._settled(sender, deadline):
                # Rasa still has this sender's previous message: this one waits behind it.
                return await self._degrade(sender, message, [], RasaUnavailable("the previous turn is still with Rasa"),
                                          turn_id)
            pending = await self._take(sender)
            replies: List[Dict[str, Any]] = []
            for i, item in enumerate(pending):
                try:
                    replies += await self._replay(deadline, sender, item)
                except (RasaUnavailable, asyncio.TimeoutError, aiohttp.ClientError) as err:
                    return await self._degrade(sender, message, pending[i:], err, turn_id)
            if pending:
                log.info("degraded mode: replayed %d kept message(s) of a sender", len(pending))
            if pending and message.strip() in CONTINUE_WORDS:
                return replies, False
            try:
                replies += await self._call(deadline, sender, message, turn_id)
            except (RasaUnavailable, asyncio.TimeoutError) as err:
                degraded, _ = await self._degrade(sender, message, [], err, turn_id)
                return replies + degraded, True  # the replayed messages' answers first
            return replies, False

    async def _degrade(self, sender: str, message: str, still_pending: Sequence[Pending],
                       err: BaseException, turn_id: str) -> Tuple[List[Dict[str, Any]], bool]:
        log.warning("degraded mode: Rasa did not answer (%s); answering from the knowledge base",
                    err.__class__.__name__ if isinstance(err, asyncio.TimeoutError) else err)
        # Only a request that timed out may have been read by Rasa (refused or HTTP 5xx: not run).
        maybe = isinstance(err, asyncio.TimeoutError) or isinstance(err.__cause__, asyncio.TimeoutError)
        kept = list(still_pending)
        if kept and maybe:  # the kept message whose replay timed out
            kept[0] = replace(kept[0], maybe_delivered=True)
        if message.strip() not in CONTINUE_WORDS:
            kept.append(Pending(message, maybe, turn_id))
        await self._keep(sender, kept)
        self._deliver_later(sender)
        texts = [p.message for p in kept if not p.message.startswith("/")]
        try:
            return degraded_messages(self.kb, texts, self.blocklist, self._app.get(STAGE_MODEL_KEY)), True
        except Exception:  # noqa: BLE001 - the numbers still go out, whatever broke
            log.exception("degraded mode: the knowledge base could not judge the message")
            return fixed_messages(self.kb), True

    # -- delivery in the background ------------------------------------------------------------

    def _deliver_later(self, sender: str) -> None:
        """Make sure the sender's kept messages are on their way to Rasa (one task per sender)."""
        task = self._delivering.get(sender)
        if task is not None and not task.done():
            return  # already on its way; it reads the kept messages afresh at each try
        task = self._spawn(self._deliver(sender))
        self._delivering[sender] = task
        task.add_done_callback(lambda t: self._delivering.pop(sender, None) if self._delivering.get(sender) is t else None)

    async def _deliver(self, sender: str) -> None:
        delay = REDELIVER_FIRST_S
        give_up = time.monotonic() + self.keep_s
        while time.monotonic() < give_up:
            await asyncio.sleep(delay)
            delay = min(REDELIVER_MAX_S, delay * 2)
            in_flight = self._in_flight.get(sender)
            if in_flight is not None:  # let Rasa finish what it has first (not under the lock)
                await asyncio.wait({in_flight})
            async with self._lock(sender):
                if not await self._settled(sender, time.monotonic()):
                    continue  # a turn of the resident sent something meanwhile
                if sender not in self._unkept and not await self._store_answers():
                    continue
                delivered, rest = await self._flush(sender, await self._take(sender))
                # Delivered ones stay kept, marked: the next turn shows Rasa's answers to them.
                await self._keep(sender, delivered + rest)
                if not rest:
                    if delivered:
                        log.info("degraded mode: delivered %d kept message(s) of a sender in the background",
                                 len(delivered))
                    return
        log.error("degraded mode: kept messages of a sender not delivered within %.0f s", self.keep_s)

    async def _store_answers(self) -> bool:
        """Whether the kept messages can be read now (a take from a store that is down would
        log an error at every try)."""
        ping = getattr(self.store, "ping", None)
        return True if ping is None else bool(await ping())

    async def _flush(self, sender: str, items: Sequence[Pending]) -> Tuple[List[Pending], List[Pending]]:
        """One try (within one budget, so the sender's next turn waits little) at delivering
        `items` in order: (delivered, still to deliver)."""
        deadline = time.monotonic() + self.budget_s
        delivered: List[Pending] = []
        for i, item in enumerate(items):
            try:
                if await self._stored_replies(deadline, sender, item) is None:
                    await self._call(deadline, sender, item.message, item.turn_id)
            except (RasaUnavailable, asyncio.TimeoutError, aiohttp.ClientError) as err:
                maybe = item.maybe_delivered or isinstance(err, asyncio.TimeoutError)
                return delivered, [replace(item, maybe_delivered=maybe), *items[i + 1:]]
            delivered.append(replace(item, maybe_delivered=True))
        return delivered, []

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)


DEGRADED_KEY = web.AppKey("degraded_chat", DegradedChat)


def _store_for(settings: Settings) -> PendingStore:
    if settings.redis_url:
        return RedisPendingStore(settings.redis_url, settings.pending_max_messages, settings.pending_ttl_s)
    return MemoryPendingStore(settings.pending_max_messages, settings.pending_ttl_s)


async def _close_store(app: web.Application) -> None:
    await app[DEGRADED_KEY].close()
    store = app[DEGRADED_KEY].store
    if isinstance(store, RedisPendingStore):
        await store.close()


async def _warm_up(app: web.Application) -> None:
    # The first verdict of a process compiles the KB's patterns (~0.5 s on a busy machine):
    # paid here, not by the first resident who meets a silent Rasa.
    try:
        degraded_messages(current_kb(app), ["有人让我转账到安全账户"], app[BLOCKLIST_KEY])
    except Exception:  # noqa: BLE001 - a test's stand-in KB; a real one fails at load, not here
        log.warning("degraded mode: no warm-up (the knowledge base could not judge a sample)")


def setup_degraded(app: web.Application) -> None:
    settings = app[SETTINGS_KEY]
    app[DEGRADED_KEY] = DegradedChat(app, _store_for(settings), settings.degraded_after_s, settings.pending_ttl_s)
    app.on_startup.append(_warm_up)
    app.on_cleanup.append(_close_store)
