"""WeChat Official Account connector: ``/wechat`` (公众号 server URL).

The protocol and its crypto come from wechatpy; nothing here hand-rolls SHA1
signing, AES or XML:

- ``GET /wechat?signature&timestamp&nonce&echostr``: WeChat's URL check.  The
  signature (sha1 of the sorted token, timestamp and nonce) is verified with
  ``wechatpy.utils.check_signature`` and ``echostr`` is echoed; a wrong
  signature gets 403.
- ``POST /wechat?signature&timestamp&nonce&openid[&encrypt_type=aes&msg_signature]``:
  the same signature check on every message (403), then, in 安全模式
  (``encrypt_type=aes``), ``WeChatCrypto`` checks ``msg_signature`` and decrypts
  the body, and encrypts the reply.  Messages are parsed with
  ``wechatpy.parse_message`` and answered with a passive ``TextReply``:

  * text → one chat turn with sender ``wx:<openid>`` (the same
    ``bot.gateway.services.chat_turn`` as the widget and the JSON API); the bot's
    texts are joined into one reply; buttons become numbered options, and a
    reply of the number or the title sends the button's payload;
  * "订阅预警 [老年人|家长|学生|所有人]" / "退订" → the alert subscription
    (bot/gateway/alerts.py: only the OpenID and the audience are kept), not a chat turn;
  * image → the picture fetched (bot/gateway/wechat_media.py: PicUrl, else MediaId through
    wechatpy's media API; bounded in size and time), read by the OCR reader under
    ``IMAGE_READER_KEY``, and the text read goes on as if pasted (one chat turn, the reply
    starting with "我看到的文字：…", masked);
  * voice → WeChat's own ``Recognition`` as a typed message when the account has speech
    recognition on; without it, a reply asking to type or send a screenshot;
  * a verdict in the reply → a link to its share page ("发给家人看看", bot/gateway/share.py);
  * ``subscribe`` → a welcome text; ``unsubscribe`` (unfollow) also ends the alert
    subscription; other events → ``success`` (no reply);
  * anything else (location, link, video) → "请直接输入文字…";
  * a body that is not WeChat XML → 400, never a crash.

WeChat drops a passive reply that takes longer than 5 seconds (and retries the
same MsgId).  A chat turn therefore gets ``REPLY_TIMEOUT_S`` (4.5 s); if it is
slower, the resident is told to send "结果" in a moment, the turn keeps running
in the background, and its answer is handed out with the resident's next
message.  A retried MsgId joins the turn already running instead of sending the
message to Rasa twice.

Replays and duplicates (issue 13):

- a request whose signed ``timestamp`` (or whose message's ``CreateTime``) is more
  than ``WECHAT_MAX_CLOCK_SKEW_S`` (300 s, WeChat's own guidance) from our clock is
  refused with 403: a captured signed request cannot be replayed later;
- duplicates are recognised per user: a message by ``(FromUserName, MsgId)``, an
  event by ``(FromUserName, CreateTime, Event)``, kept ``WECHAT_DEDUPE_TTL_S`` in a
  bounded ``TTLCache``; with ``REDIS_URL`` a finished reply is also kept in Redis
  under that key, so a retry that reaches another replica (or a restarted one) gets
  the same reply instead of a second turn.  Two users who send the same MsgId never
  see each other's replies;
- a ``MsgId`` or ``CreateTime`` that is not a number is malformed XML (400, no traceback);
- rate limits per address and per openid (bot/gateway/ratelimit.py) are answered with
  a text reply that still says 110 / 96110 (WeChat shows an error status as "该公众号暂时无法提供服务").

Configuration comes from the settings (bot/settings.py; environment variables, DESIGN.md):

- ``WECHAT_TOKEN`` (required).  **Without it the endpoint refuses to start:**
  ``/wechat`` is not mounted at all and a warning is logged, while the rest of
  the gateway (widget, API) runs as usual.  An endpoint without a token could
  not verify that a request comes from WeChat, so it must not exist.
- ``WECHAT_ENCODING_AES_KEY`` (43 characters) and ``WECHAT_APP_ID``: both
  needed for 安全模式.  Without them only 明文模式 works and an encrypted
  message gets 400.  A key that is set but invalid, or a key without an app id,
  is a configuration error: ``/wechat`` is not mounted and an error is logged.
"""
from __future__ import annotations

import asyncio
import json
import logging
import time
from dataclasses import dataclass, field
from typing import Any, AsyncIterator, Awaitable, Callable, Dict, List, Mapping, Optional, Tuple

from aiohttp import web
from cachetools import LRUCache, TTLCache
from wechatpy import parse_message
from wechatpy.crypto import WeChatCrypto
from wechatpy.exceptions import InvalidAppIdException, InvalidSignatureException
from wechatpy.replies import TextReply
from wechatpy.utils import check_signature

from bot.alerts.texts import parse_subscription
from bot.gateway import services
from bot.gateway.alerts import forget_subscriber, subscription_reply
from bot.gateway.keys import IMAGE_READER_KEY
from bot.gateway.ratelimit import LIMITER_KEY as _LIMITER_KEY
from bot.gateway.ratelimit import client_address, rate_limited_text
from bot.gateway.share import SHARE_BUTTON, SHARE_STORE_KEY, public_base, share_paths, share_verdict
from bot.gateway.wechat_media import MediaFetcher, MediaFetchError
from bot.kb import RISK_LABELS
from bot.kb.loss import URGENT_STEPS
from bot.kb.stage import URGENT_STAGES
from bot.privacy import mask_text
from bot.settings import Settings

log = logging.getLogger(__name__)

WECHAT_PATH = "/wechat"
REPLY_TIMEOUT_S = 4.5  # WeChat waits 5 s for a passive reply
MAX_REPLY_BYTES = 2000  # WeChat's limit for a text reply is 2048 bytes (UTF-8)
MAX_MESSAGE_CHARS = 5000  # same as the chat API
# An urgent verdict's advice starts with loss_steps' police and bank lines: they lead the reply.
URGENT_LEAD_LINES = len(URGENT_STEPS)
PENDING_TTL_S = 15 * 60  # how long a late answer waits to be picked up
# WeChat retries within ~15 s; a turn is kept a while for those retries (a turn itself
# ends within the Rasa client's 10 s timeout).
RETRY_WINDOW_S = 120  # default of WECHAT_DEDUPE_TTL_S
MAX_CLOCK_SKEW_S = 300  # default of WECHAT_MAX_CLOCK_SKEW_S
MAX_ID_DIGITS = 24  # MsgId is a 64-bit number; CreateTime a Unix time
REPLY_KEY_PREFIX = "fzzc:wechat:reply:"
MAX_TRACKED = 5000  # bound on every per-user / per-message cache

WELCOME_TEXT = (
    "您好，欢迎关注反诈自查助手。\n"
    "接到可疑电话、短信，或者聊天里有人让您转账，\n"
    "把经过直接打字发给我，我帮您看看是不是骗局。\n"
    "提醒：任何人要验证码、密码、银行卡号，都不要给。\n"
    "拿不准，打 96110 反诈专线问一问。\n"
    "想收社区发的反诈预警，回复“订阅预警”。"
)
TEXT_ONLY_TEXT = (
    "请直接输入文字，把遇到的事情说一说。\n"
    "链接、位置和视频我暂时看不了；短信或聊天可以截图发给我。\n"
    "可以把短信或聊天里的原话复制过来。"
)
SLOW_TEXT = "正在分析，请过几秒再发「结果」两个字，我把结论发给您。"
STILL_BUSY_TEXT = (
    "上一条还在分析，请过几秒再发「结果」。\n"
    "您刚发的这条，请看到结果后再发一次。"
)
NOTHING_PENDING_TEXT = "没有还在等的结果。请把遇到的事情直接打字发给我。"
UNAVAILABLE_TEXT = (
    "助手正在启动或比较忙，请过一会儿再发一次。\n"
    "着急的话，直接打 96110 反诈专线。"
)
ERROR_TEXT = "抱歉，出了点问题，请再发一次。\n着急的话，直接打 96110 反诈专线。"
EMPTY_TEXT = "我没看懂，请换个说法再说一次。"
LATE_PREFIX = "刚才的分析结果：\n"
TRUNCATED_TEXT = "\n……（内容较长，没发完。拿不准请打 96110）"
RESULT_KEYWORDS = {"结果", "結果", "查结果", "查看结果", "result"}
VOICE_TEXT = (
    "语音我暂时听不了。\n"
    "请把事情打字发给我，或者把短信、聊天记录截图发过来。"
)
IMAGE_FETCH_FAILED_TEXT = "图片没有收到，请再发一次；也可以把原话复制过来。"
IMAGE_UNREADABLE_TEXT = "这张图片里的字我没看清。请发一张清楚一点的截图，或者把原话打字发给我。"
IMAGE_NO_READER_TEXT = "图片我暂时看不了。请把短信或聊天里的原话复制过来，或者打字说一说。"
READ_PREFIX = "我看到的文字："
READ_PREVIEW_CHARS = 80  # the rest of the 2 KB reply is for the verdict
SHARE_LINE = SHARE_BUTTON + "（把结果转给子女、家人）：{url}"


@dataclass
class WeChatSettings:
    token: str
    app_id: str = ""
    crypto: Optional[WeChatCrypto] = None
    max_skew_s: int = MAX_CLOCK_SKEW_S
    dedupe_ttl_s: int = RETRY_WINDOW_S
    redis_url: Optional[str] = None  # finished replies shared by replicas (see `ReplyStore`)
    # (openid, MsgId) → turn; WeChat retries a message it got no answer to
    turns: TTLCache = field(default_factory=lambda: TTLCache(MAX_TRACKED, RETRY_WINDOW_S))
    # (openid, CreateTime, Event) → the answer given to that event
    events: TTLCache = field(default_factory=lambda: TTLCache(MAX_TRACKED, RETRY_WINDOW_S))
    # openid → the turn that missed the 5 s window
    late: TTLCache = field(default_factory=lambda: TTLCache(MAX_TRACKED, PENDING_TTL_S))
    # openid → the buttons of the last reply (so "1" or "是" sends the payload)
    buttons: LRUCache = field(default_factory=lambda: LRUCache(MAX_TRACKED))
    media: Optional[MediaFetcher] = None  # pictures residents send


WECHAT_KEY = web.AppKey("wechat", WeChatSettings)


def connector_settings(settings: Settings) -> Optional[WeChatSettings]:
    """The connector's settings, or None (with a log line) when it must not start."""
    token = settings.wechat_token.strip()
    if not token:
        log.warning("WECHAT_TOKEN is not set: the WeChat endpoint %s is not mounted", WECHAT_PATH)
        return None
    aes_key = settings.wechat_encoding_aes_key.strip()
    app_id = settings.wechat_app_id.strip()
    crypto = None
    if aes_key:
        if not app_id:
            log.error("WECHAT_ENCODING_AES_KEY is set but WECHAT_APP_ID is not: %s is not mounted", WECHAT_PATH)
            return None
        try:
            crypto = WeChatCrypto(token, aes_key, app_id)
        except Exception as err:  # wrong length / not base64: wechatpy asserts
            log.error("WECHAT_ENCODING_AES_KEY is invalid (%s): %s is not mounted", err.__class__.__name__, WECHAT_PATH)
            return None
    ttl = max(1, settings.wechat_dedupe_ttl_s)
    return WeChatSettings(
        token=token, app_id=app_id, crypto=crypto, max_skew_s=settings.wechat_max_clock_skew_s,
        dedupe_ttl_s=ttl, redis_url=settings.redis_url,
        turns=TTLCache(MAX_TRACKED, ttl), events=TTLCache(MAX_TRACKED, ttl),
        media=MediaFetcher.from_settings(settings),
    )


def settings_from_env(env: Mapping[str, str]) -> Optional[WeChatSettings]:
    """`connector_settings` from a mapping of environment variables (not os.environ)."""
    return connector_settings(Settings.from_env(env))


def setup_wechat(app: web.Application, settings: Settings) -> bool:
    """Mount ``/wechat`` if ``WECHAT_TOKEN`` is set; return whether it was mounted."""
    connector = connector_settings(settings)
    if connector is None:
        return False
    app[WECHAT_KEY] = connector
    app[REPLY_STORE_KEY] = ReplyStore(connector.redis_url, connector.dedupe_ttl_s)
    app.router.add_get(WECHAT_PATH, verify_endpoint)
    app.router.add_post(WECHAT_PATH, message_endpoint)
    app.cleanup_ctx.append(_turns_ctx)
    log.info("WeChat endpoint mounted at %s (安全模式 %s)", WECHAT_PATH, "on" if connector.crypto else "off")
    return True


async def _turns_ctx(app: web.Application) -> AsyncIterator[None]:
    """At the end: cancel the turns still running."""
    yield
    settings = app[WECHAT_KEY]
    tasks = list(settings.turns.values()) + list(settings.late.values())
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    await app[REPLY_STORE_KEY].close()


class ReplyStore:
    """Finished replies by (openid, MsgId) in Redis, for retries that reach another replica.

    Without a Redis URL it does nothing (the in-process `turns` cache is the whole story).
    A Redis error costs only the cross-replica dedupe, never the reply.
    """

    def __init__(self, redis_url: Optional[str], ttl_s: int) -> None:
        self.ttl_s = ttl_s
        self._redis: Any = None
        if redis_url:
            import redis.asyncio as aioredis  # only with REDIS_URL

            self._redis = aioredis.from_url(redis_url, socket_timeout=0.5, socket_connect_timeout=0.5)

    @staticmethod
    def _key(openid: str, msg_id: str) -> str:
        return REPLY_KEY_PREFIX + json.dumps([openid, msg_id], ensure_ascii=False)

    async def get(self, openid: str, msg_id: str) -> Optional[str]:
        if self._redis is None:
            return None
        try:
            value = await self._redis.get(self._key(openid, msg_id))
        except Exception as err:  # noqa: BLE001
            log.warning("WeChat: reply store unavailable (%s)", err.__class__.__name__)
            return None
        return value.decode("utf-8") if value is not None else None

    async def put(self, openid: str, msg_id: str, text: str) -> None:
        if self._redis is None:
            return
        try:
            await self._redis.set(self._key(openid, msg_id), text.encode("utf-8"), ex=self.ttl_s)
        except Exception as err:  # noqa: BLE001
            log.warning("WeChat: reply store unavailable (%s)", err.__class__.__name__)

    async def close(self) -> None:
        if self._redis is not None:
            await self._redis.close()


REPLY_STORE_KEY = web.AppKey("wechat_replies", ReplyStore)


def _is_number(value: str) -> bool:
    """ASCII digits only (str.isdigit also takes "１２３"), and not absurdly long."""
    return value.isascii() and value.isdigit() and len(value) <= MAX_ID_DIGITS


def _is_fresh(value: str, max_skew_s: int) -> bool:
    """A Unix time (as WeChat sends it) within `max_skew_s` of our clock."""
    if not _is_number(value):
        return False
    return abs(time.time() - int(value)) <= max_skew_s


# -- signature ---------------------------------------------------------------

def _check_request_signature(request: web.Request, token: str) -> Tuple[str, str]:
    query = request.query
    timestamp, nonce = query.get("timestamp", ""), query.get("nonce", "")
    signature = query.get("signature", "")
    if not (timestamp and nonce and signature):
        raise web.HTTPForbidden(text="missing signature")
    try:
        check_signature(token, signature, timestamp, nonce)
    except InvalidSignatureException:
        log.warning("WeChat: bad signature from %s", request.remote)
        raise web.HTTPForbidden(text="invalid signature") from None
    if not _is_fresh(timestamp, request.app[WECHAT_KEY].max_skew_s):
        log.warning("WeChat: signed request with a stale timestamp from %s (replay?)", request.remote)
        raise web.HTTPForbidden(text="stale timestamp")
    return timestamp, nonce


async def verify_endpoint(request: web.Request) -> web.Response:
    """WeChat's server URL check: echo ``echostr`` when the signature is right."""
    _check_request_signature(request, request.app[WECHAT_KEY].token)
    return web.Response(text=request.query.get("echostr", ""))


# -- messages ----------------------------------------------------------------

async def message_endpoint(request: web.Request) -> web.Response:
    settings = request.app[WECHAT_KEY]
    timestamp, nonce = _check_request_signature(request, settings.token)
    raw = await request.read()
    encrypted = request.query.get("encrypt_type", "raw").lower() == "aes"
    if encrypted:
        if settings.crypto is None:
            log.warning("WeChat: encrypted message but WECHAT_ENCODING_AES_KEY is not set")
            raise web.HTTPBadRequest(text="encrypted mode is not configured")
        try:
            raw = settings.crypto.decrypt_message(
                raw, request.query.get("msg_signature", ""), timestamp, nonce
            )
        except InvalidSignatureException:
            raise web.HTTPForbidden(text="invalid msg_signature") from None
        except InvalidAppIdException:
            raise web.HTTPBadRequest(text="message for another app id") from None
        except Exception as err:  # not XML, no <Encrypt>, not base64, bad padding
            log.warning("WeChat: cannot decrypt message: %s", err.__class__.__name__)
            raise web.HTTPBadRequest(text="cannot decrypt message") from None
    try:
        message = parse_message(raw)
        if message is None:
            raise ValueError("empty body")
        source, target = message.source, message.target
        if not source or not target:
            raise ValueError("no FromUserName / ToUserName")
        fields = getattr(message, "_data", None) or {}
        msg_id, created = (str(fields.get(k) or "").strip() for k in ("MsgId", "CreateTime"))
        if msg_id and not _is_number(msg_id):
            raise ValueError("MsgId is not a number")
        if created and not _is_number(created):
            raise ValueError("CreateTime is not a number")
    except Exception as err:
        log.warning("WeChat: malformed message: %s", err.__class__.__name__)
        raise web.HTTPBadRequest(text="malformed WeChat XML") from None
    if created and not _is_fresh(created, settings.max_skew_s):
        log.warning("WeChat: message with a stale CreateTime from %s (replay?)", request.remote)
        raise web.HTTPForbidden(text="stale CreateTime")
    limiter = request.app.get(_LIMITER_KEY)
    wait = limiter.hit("wechat_address", client_address(request)) if limiter is not None else None

    try:
        origin = f"{request.scheme}://{request.host}"  # share links: PUBLIC_URL, else the address WeChat calls
        text = (rate_limited_text(wait) if wait is not None
                else await _answer(request.app, message, msg_id, created, origin))
    except Exception:  # WeChat shows "暂时无法提供服务" on an error status; say something useful instead
        log.exception("WeChat: could not answer a %s message", getattr(message, "type", "?"))
        text = ERROR_TEXT
    if text is None:  # nothing to say: WeChat wants "success" (or an empty body)
        return web.Response(text="success")
    reply = TextReply(content=_fit(text), message=message)
    body = reply.render()
    if encrypted:
        body = settings.crypto.encrypt_message(body, nonce, timestamp)
    return web.Response(text=body, content_type="application/xml")


async def _answer(
    app: web.Application, message: Any, msg_id: str = "", created: str = "", origin: str = ""
) -> Optional[str]:
    kind = message.type
    if kind == "event":
        if str(getattr(message, "event", "") or "") == "unsubscribe":
            await forget_subscriber(app, message.source)
        return _event_answer(app[WECHAT_KEY], message, created)
    msg_id = "" if msg_id.strip("0") == "" else msg_id  # "0" or absent: no id to dedupe on
    if kind == "image":
        return await _image_message(app, message, msg_id, origin)
    if kind == "voice":
        # WeChat fills Recognition when the account has speech recognition switched on.
        content = str(getattr(message, "recognition", None) or "").strip()
        if not content:
            return VOICE_TEXT
    elif kind == "text":
        content = (message.content or "").strip()
    else:
        return TEXT_ONLY_TEXT
    if not content:
        return TEXT_ONLY_TEXT
    command = parse_subscription(content)
    if command is not None:  # 订阅预警 / 退订 (issue 16): answered here, never sent to Rasa
        return await subscription_reply(app, message.source, command)
    return await _text_turn(app, message.source, content[:MAX_MESSAGE_CHARS], msg_id, origin)


async def _image_message(app: web.Application, message: Any, msg_id: str, origin: str) -> str:
    reader = app.get(IMAGE_READER_KEY)
    settings = app[WECHAT_KEY]
    if reader is None or settings.media is None:
        return IMAGE_NO_READER_TEXT
    pic_url, media_id = str(getattr(message, "image", "") or ""), str(getattr(message, "media_id", "") or "")
    openid = message.source

    async def run() -> List[Dict[str, Any]]:
        return await _image_turn(app, openid, pic_url, media_id, origin)

    return await _start_turn(app, openid, msg_id, run)


async def _image_turn(app: web.Application, openid: str, pic_url: str, media_id: str,
                      origin: str) -> List[Dict[str, Any]]:
    """Fetch, read, then one chat turn with the text read, as if the resident had pasted it."""
    try:
        data = await app[WECHAT_KEY].media.fetch(pic_url, media_id)  # type: ignore[union-attr]
    except MediaFetchError as err:
        log.warning("WeChat: picture not fetched: %s", err)
        return [{"text": IMAGE_FETCH_FAILED_TEXT}]
    try:
        text = (await app[IMAGE_READER_KEY](data)).strip()
    except Exception as err:  # noqa: BLE001 - an unreadable file is the resident's problem to fix, not a 500
        log.warning("WeChat: picture not read: %s", err.__class__.__name__)
        text = ""
    if not text:
        return [{"text": IMAGE_UNREADABLE_TEXT}]
    text = text[:MAX_MESSAGE_CHARS]
    preview = mask_text(text.replace("\n", " "))
    preview = preview[:READ_PREVIEW_CHARS] + ("…" if len(preview) > READ_PREVIEW_CHARS else "")
    messages = await _run_turn(app, "wx:" + openid, text, origin)
    return [{"text": READ_PREFIX + preview}] + messages


def _event_answer(settings: WeChatSettings, message: Any, created: str) -> Optional[str]:
    """An event's answer; a retried event (same user, CreateTime, event) gets the same one."""
    event = str(getattr(message, "event", "") or "")
    key = (message.source, created, event)
    if created and key in settings.events:
        return settings.events[key]
    answer = WELCOME_TEXT if event in ("subscribe", "subscribe_scan") else None
    if created:
        settings.events[key] = answer
    return answer


async def _text_turn(app: web.Application, openid: str, content: str, msg_id: str, origin: str = "") -> str:
    settings = app[WECHAT_KEY]

    async def run() -> List[Dict[str, Any]]:
        # Read after any late answer was handed out: its buttons are the ones a "1" means.
        return await _run_turn(app, "wx:" + openid, _payload_for(settings, openid, content), origin)

    return await _start_turn(app, openid, msg_id, run, content)


async def _start_turn(
    app: web.Application, openid: str, msg_id: str, run: Callable[[], Awaitable[List[Dict[str, Any]]]],
    content: str = "",
) -> str:
    """One message's turn (text, voice or picture): retries join it, the 5 s rule holds."""
    settings = app[WECHAT_KEY]
    _cancel_expired(settings)
    key = (openid, msg_id)
    known = settings.turns.get(key) if msg_id else None
    if known is not None:  # WeChat retrying a message it got no answer to: join that turn
        return await _await_turn(settings, openid, known, [])
    if msg_id:
        stored = await app[REPLY_STORE_KEY].get(openid, msg_id)
        if stored is not None:  # answered by another replica (or before a restart)
            return stored
    limiter = app.get(_LIMITER_KEY)
    wait = limiter.hit("wechat_sender", openid) if limiter is not None else None
    if wait is not None:
        return rate_limited_text(wait)
    parts: List[str] = []
    task = settings.late.get(openid)
    if task is not None:
        if not task.done():
            return SLOW_TEXT if content in RESULT_KEYWORDS else STILL_BUSY_TEXT
        del settings.late[openid]
        parts.append(LATE_PREFIX + _turn_text(settings, openid, task))
        if content in RESULT_KEYWORDS:
            return "\n\n".join(parts)
    task = asyncio.ensure_future(run())
    if msg_id:
        settings.turns[key] = task
    text = await _await_turn(settings, openid, task, parts)
    if msg_id and task.done():
        await app[REPLY_STORE_KEY].put(openid, msg_id, text)
    return text


async def _await_turn(settings: WeChatSettings, openid: str, task: "asyncio.Task", parts: List[str]) -> str:
    """Wait for a turn up to REPLY_TIMEOUT_S; a slower one is parked for the next message."""
    try:
        await asyncio.wait_for(asyncio.shield(task), timeout=REPLY_TIMEOUT_S)
    except asyncio.TimeoutError:
        if not task.done():
            settings.late[openid] = task
            parts.append(SLOW_TEXT)
            return "\n\n".join(parts)
    except Exception:
        pass  # the turn's own error; _turn_text says it politely
    if settings.late.get(openid) is task:
        del settings.late[openid]
    parts.append(_turn_text(settings, openid, task))
    return "\n\n".join(parts)


async def _run_turn(app: web.Application, sender: str, message: str, origin: str = "") -> List[Dict[str, Any]]:
    messages = await services.chat_turn(app, sender, message, "wechat")
    await _add_share_links(app, messages, origin)
    return messages


async def _add_share_links(app: web.Application, messages: List[Dict[str, Any]], origin: str) -> None:
    """Every verdict card gets its share page's address (rendered after the verdict's text).
    A share that cannot be made costs only the link, never the reply."""
    if SHARE_STORE_KEY not in app:
        return
    for m in messages:
        custom = m.get("custom")
        verdict = custom.get("verdict") if isinstance(custom, dict) else None
        if not isinstance(verdict, dict):
            continue
        try:
            share = await share_verdict(app, verdict)
            custom["share_url"] = public_base(app, origin or "http://localhost") + share_paths(share)["url"]
        except Exception as err:  # noqa: BLE001
            log.warning("WeChat: no share link for a verdict (%s)", err.__class__.__name__)


def _turn_text(settings: WeChatSettings, openid: str, task: "asyncio.Task") -> str:
    """A finished turn as one WeChat text; remembers its buttons for the next message."""
    if task.cancelled():
        return ERROR_TEXT
    err = task.exception()
    if err is not None:
        if getattr(err, "status", None) == 503:
            return UNAVAILABLE_TEXT
        log.error("WeChat: chat turn failed: %r", err)
        return ERROR_TEXT
    return render_messages(task.result(), settings, openid)


def render_messages(
    messages: List[Dict[str, Any]], settings: Optional[WeChatSettings] = None, openid: str = ""
) -> str:
    """The bot's messages as one plain text: texts joined, buttons as numbered options."""
    texts: List[str] = []
    buttons: List[Dict[str, str]] = []
    for msg in messages:
        text = (msg.get("text") or "").strip()
        if text:
            texts.append(text)
        if msg.get("buttons"):
            buttons = [b for b in msg["buttons"] if b.get("title")]
    if not texts:
        # A verdict sent only as a card (custom payload) still needs words on WeChat.
        for msg in messages:
            verdict = (msg.get("custom") or {}).get("verdict") if isinstance(msg.get("custom"), dict) else None
            if isinstance(verdict, dict):
                texts.append(verdict_text(verdict))
    for msg in messages:
        share_url = (msg.get("custom") or {}).get("share_url") if isinstance(msg.get("custom"), dict) else None
        if share_url:
            texts.append(SHARE_LINE.format(url=share_url))
    if buttons:
        options = "  ".join(f"{i}. {b['title']}" for i, b in enumerate(buttons, 1))
        texts.append("请回复数字或文字：" + options)
    if settings is not None and openid:
        if buttons:
            settings.buttons[openid] = buttons
        else:
            settings.buttons.pop(openid, None)
    return "\n\n".join(texts) or EMPTY_TEXT


def _payload_for(settings: WeChatSettings, openid: str, content: str) -> str:
    """A typed "2" or "不是" after numbered options sends that button's payload."""
    buttons = settings.buttons.get(openid)
    if not buttons:
        return content
    for i, button in enumerate(buttons, 1):
        if content in (str(i), button.get("title", "").strip()):
            return button.get("payload") or button.get("title") or content
    return content


def verdict_text(verdict: Dict[str, Any]) -> str:
    """A verdict (the /api/v1/assess shape) as plain text, for channels without cards."""
    lines: List[str] = []
    advice = [str(a) for a in verdict.get("advice") or []]
    if verdict.get("stage") in URGENT_STAGES and advice:
        # The one urgent rule (bot.kb.loss_steps): its steps lead the verdict's advice —
        # 110/96110, then the bank — and they come before anything else here too.
        lines.extend(f"🚨 {a}" for a in advice[:URGENT_LEAD_LINES])
    risk = RISK_LABELS.get(str(verdict.get("risk_level", "")), "")
    name = str(verdict.get("scam_name") or "")
    head = " · ".join(x for x in (risk, name) if x)
    if head:
        lines.append(("⚠️ " if verdict.get("risk_level") in ("high", "medium") else "") + head)
    flags = [f for f in verdict.get("red_flags") or [] if isinstance(f, dict)]
    if flags:
        lines.append("为什么：")
        for flag in flags:
            quote = f"“{flag['quote']}”——" if flag.get("quote") else ""
            lines.append(f"·{quote}{flag.get('description', '')}")
    if advice:
        lines.append("现在就做：")
        lines.extend(f"{i}. {a}" for i, a in enumerate(advice, 1))
    hotlines = [h for h in verdict.get("hotlines") or [] if isinstance(h, dict)]
    if hotlines:
        lines.append("电话：")
        for h in hotlines:
            when = f"（{h['when']}）" if h.get("when") else ""
            lines.append(f"{h.get('name', '')} {h.get('number', '')}{when}".strip())
    return "\n".join(lines)


def _fit(text: str) -> str:
    """Cut a reply to WeChat's size limit, at a line break when possible."""
    if len(text.encode("utf-8")) <= MAX_REPLY_BYTES:
        return text
    budget = MAX_REPLY_BYTES - len(TRUNCATED_TEXT.encode("utf-8"))
    cut = text.encode("utf-8")[:budget].decode("utf-8", errors="ignore")
    if "\n" in cut[len(cut) // 2:]:
        cut = cut[: cut.rindex("\n")]
    return cut + TRUNCATED_TEXT


def _cancel_expired(settings: WeChatSettings) -> None:
    """Late answers nobody came back for: stop their turns if they still run."""
    for _, task in settings.late.expire():
        if not task.done():
            task.cancel()
    settings.turns.expire()
