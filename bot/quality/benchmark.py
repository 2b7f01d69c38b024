"""`make bench`: start the whole stack on spare ports and measure it.

Reports medians and percentiles (these machines are noisy): time to healthy, the
sequential latency of /api/v1/assess and of a chat turn through /api/v1/chat, a chat
turn stage by stage (gateway, NLU, the dialogue, the action server, the tracker store)
and the cost of one turn at turn 1, 100 and 300 of one long conversation, the
throughput of /api/v1/assess under concurrent load; then the operator and outreach
parts: POST and GET /api/v1/cases, the console's live assessment over /console/ws,
GET /api/v1/stats, tip-sheet and case PDFs; and last the memory of each process.
The rate-limit phase (issue 13) floods /api/v1/chat as one sender from its own loopback
address while other senders (other addresses) talk: the flood must get 429s and the
others' p95 stay within 1.5x of their p95 without the flood.
Writes reports/bench.json.

The stack runs with its own temporary case store, statistics, blocklist, operators
file and API token, so a run never reads or writes the repository's var/.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence

import aiohttp
import yaml

from bot.gateway.auth import save_operator
from bot.runtime import stack
from bot.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
REPORTS = ROOT / "reports"

ASSESS_TEXTS = [
    "我妈刚接到电话，说她医保卡在外地被盗刷了，电话又转给了一个警官，让她下载软件开视频做笔录",
    "您好，我是京东客服，您开通了京东金条百万保障服务，如不关闭每月将扣费800元，请下载会议软件共享屏幕",
    "网上有个贷款平台说无抵押秒批20万，要我先交5000元保证金才能放款",
    "爸，我换新号码了，这是我的新微信，急用钱先转我两万，别打我原来的电话",
    "【中国移动】尊敬的客户，您本月流量已使用80%，回复KTLL办理流量包，回复TD退订",
    "您的快递已到菜鸟驿站，取件码3-2-1108，请及时领取",
    "有人在抖音上让我点赞关注，说每单返3元，后来让我垫付做任务",
    "我在网上认识个男朋友，他带我在一个平台上投资，说稳赚不赔",
]
CHAT_SCRIPT = ["你好", ASSESS_TEXTS[0], "是", "不是", "重新开始"]
# One resident's long conversation: this cycle of ten turns (two self-checks, small talk),
# never restarted, so that whatever grows with the history shows. Costs are the medians
# of the ten turns ending at each mark, so every mark sees the same mix of turns.
LONG_SCRIPT = ["你好", ASSESS_TEXTS[0], "是", "不是", "不确定", "谢谢",
               ASSESS_TEXTS[1], "是", "不是", "谢谢"]
LONG_MARKS = (1, 100, 300)
TIP_SHEET_PDF = "/outreach/packs/elderly.pdf"
BENCH_OPERATOR = "bench"
# Settings the benchmark must not inherit from the caller's shell: they would point the
# gateway at another Rasa, or its statistics and blocklist at a shared Redis.
INHERITED_SETTINGS_DROPPED = ("RASA_URL", "ACTIONS_URL", "REDIS_URL", "STATS_REDIS_URL")
# The throughput phases send hundreds of requests a minute from 127.0.0.1: the address
# limits are lifted for the run (they are measured apart); the per-sender limit stays.
BENCH_RATE_LIMITS = {"RATE_LIMIT_CHAT_ADDRESS": "100000/minute", "RATE_LIMIT_ASSESS_ADDRESS": "100000/minute"}
FLOOD_ADDRESS = "127.0.0.2"  # loopback addresses of their own, as separate clients would have
OTHER_ADDRESSES = ("127.0.0.3", "127.0.0.4", "127.0.0.5", "127.0.0.6")
P95_TARGET_RATIO = 1.5


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def summarise(samples_ms: Sequence[float]) -> Dict[str, float]:
    return {
        "n": len(samples_ms),
        "p50_ms": round(statistics.median(samples_ms), 1),
        "p95_ms": round(percentile(samples_ms, 95), 1),
        "p99_ms": round(percentile(samples_ms, 99), 1),
        "max_ms": round(max(samples_ms), 1),
    }


async def _timed_post(session: aiohttp.ClientSession, url: str, payload: dict) -> float:
    started = time.perf_counter()
    async with session.post(url, json=payload) as response:
        await response.read()
        if response.status != 200:
            raise RuntimeError(f"{url} answered {response.status}")
    return (time.perf_counter() - started) * 1000


@dataclass(frozen=True)
class Credentials:
    """The API token and the console account made for one benchmark run."""

    api_token: str
    username: str
    password: str
    rasa_token: str = ""


def isolated_settings(env: Mapping[str, str], state_dir: Path, credentials: Credentials) -> Dict[str, str]:
    """`env` with every store of the gateway in `state_dir` and only the run's own token."""
    settings = {k: v for k, v in env.items() if k not in INHERITED_SETTINGS_DROPPED}
    settings.update({
        "CASES_URL": f"sqlite:///{state_dir / 'cases.db'}",
        "STATS_DB": str(state_dir / "stats.db"),
        "BLOCKLIST_FILE": str(state_dir / "blocklist.csv"),
        "OPERATORS_FILE": str(state_dir / "operators.yml"),
        "API_TOKENS": credentials.api_token,
        # Rasa's HTTP API token: the stage-by-stage timing calls Rasa's API directly.
        "RASA_AUTH_TOKEN": credentials.rasa_token,
        **BENCH_RATE_LIMITS,
    })
    return settings


# Spare ports, so that a benchmark never meets a `make run` on the default ports; ports
# the caller set to something else than the defaults (a port block) are kept.
SPARE_PORTS = {"RASA_PORT": "15005", "ACTIONS_PORT": "15055", "GATEWAY_PORT": "18080"}


def bench_ports(env: Mapping[str, str]) -> Dict[str, str]:
    defaults = Settings.from_env({}).as_env()
    return {name: env[name] if env.get(name, defaults[name]) != defaults[name] else spare
            for name, spare in SPARE_PORTS.items()}


def new_credentials() -> Credentials:
    return Credentials(secrets.token_urlsafe(24), BENCH_OPERATOR, secrets.token_urlsafe(16), secrets.token_hex(16))


def desk_message(seq: int, notes: str) -> Dict[str, Any]:
    """One draft as the console page sends it over the websocket."""
    return {"seq": seq, "notes": notes, "answers": {}, "channel": "phone", "claimed_identity": ""}


def desk_reply_view(message: Mapping[str, Any], seq: int) -> Optional[Mapping[str, Any]]:
    """The desk view when `message` answers draft `seq`; None for an older answer.

    An error or an expired session stops the run: a benchmark of failures means nothing.
    """
    kind = message.get("type")
    if kind == "expired":
        raise RuntimeError("console session expired during the benchmark")
    if kind == "error":
        raise RuntimeError(f"console websocket answered an error: {message.get('status')} {message.get('error')}")
    if kind != "verdict":
        raise RuntimeError(f"console websocket sent an unexpected message: {kind!r}")
    if message.get("seq") != seq:
        return None
    view = message.get("view")
    if not isinstance(view, Mapping) or "risk" not in view:
        raise RuntimeError(f"console websocket sent no desk view for seq {seq}")
    return view


def check_pdf(body: bytes, what: str) -> None:
    if not body.startswith(b"%PDF-"):
        raise RuntimeError(f"{what} is not a PDF ({len(body)} bytes, starts {body[:16]!r})")


async def measure(base: str, rounds: int, concurrency: int, load_seconds: float) -> Dict:
    async with aiohttp.ClientSession() as session:
        for text in ASSESS_TEXTS:  # warm-up
            await _timed_post(session, f"{base}/api/v1/assess", {"text": text})
        assess = [
            await _timed_post(session, f"{base}/api/v1/assess", {"text": ASSESS_TEXTS[i % len(ASSESS_TEXTS)]})
            for i in range(rounds)
        ]
        chat: List[float] = []
        for conversation in range(max(1, rounds // len(CHAT_SCRIPT))):
            for message in CHAT_SCRIPT:
                payload = {"sender": f"bench-{conversation}", "message": message}
                chat.append(await _timed_post(session, f"{base}/api/v1/chat", payload))

        done = 0
        deadline = time.perf_counter() + load_seconds

        async def worker(offset: int) -> None:
            nonlocal done
            i = offset
            while time.perf_counter() < deadline:
                await _timed_post(session, f"{base}/api/v1/assess", {"text": ASSESS_TEXTS[i % len(ASSESS_TEXTS)]})
                done += 1
                i += 1

        started = time.perf_counter()
        await asyncio.gather(*(worker(k) for k in range(concurrency)))
        elapsed = time.perf_counter() - started
    return {
        "assess_sequential": summarise(assess),
        "chat_turn_sequential": summarise(chat),
        "assess_concurrent": {
            "concurrency": concurrency, "seconds": round(elapsed, 1),
            "requests": done, "per_second": round(done / elapsed, 1),
        },
    }


async def _conversations(base: str, tag: str, rounds: int) -> List[float]:
    """Each OTHER_ADDRESSES client talks CHAT_SCRIPT `rounds` times, a new sender each time."""

    async def client(k: int, address: str) -> List[float]:
        samples: List[float] = []
        connector = aiohttp.TCPConnector(local_addr=(address, 0))
        async with aiohttp.ClientSession(connector=connector) as session:
            for r in range(rounds):
                for message in CHAT_SCRIPT:
                    payload = {"sender": f"rl-{tag}-{k}-{r}", "message": message}
                    samples.append(await _timed_post(session, f"{base}/api/v1/chat", payload))
        return samples

    results = await asyncio.gather(*(client(k, a) for k, a in enumerate(OTHER_ADDRESSES)))
    return [ms for samples in results for ms in samples]


async def _flood(base: str, concurrency: int, stop: Any, ready: Any) -> Dict[str, Any]:
    """One sender posting chat turns `concurrency` at a time, ignoring Retry-After, until `stop`."""
    counts: Dict[str, int] = {}
    retry_after_ok = True

    async def flood(session: aiohttp.ClientSession) -> None:
        nonlocal retry_after_ok
        while not stop.is_set():
            async with session.post(f"{base}/api/v1/chat", json={"sender": "rl-flood", "message": ASSESS_TEXTS[0]}) as r:
                body = await r.read()
                counts[str(r.status)] = counts.get(str(r.status), 0) + 1
                ready.set()
                if r.status == 429:
                    text = json.loads(body).get("error", "")
                    retry_after_ok &= r.headers.get("Retry-After", "").isdigit() and "96110" in text and "110" in text

    connector = aiohttp.TCPConnector(local_addr=(FLOOD_ADDRESS, 0), limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:
        await asyncio.gather(*(flood(session) for _ in range(concurrency)))
    return {"statuses": counts, "retry_after_ok": retry_after_ok}


def _flood_process(base: str, concurrency: int, stop: Any, ready: Any, results: Any) -> None:
    results.put(asyncio.run(_flood(base, concurrency, stop, ready)))


async def measure_rate_limits(base: str, rounds: int, flood_concurrency: int, sender_limit: str) -> Dict:
    """Other senders' chat latency without and with one sender flooding /api/v1/chat.

    The flood runs in a process of its own, as it would on another machine: its client work
    must not be timed as the other senders' latency.
    """
    await _conversations(base, "warm", 1)
    unloaded = await _conversations(base, "base", rounds)
    ctx = multiprocessing.get_context("spawn")
    stop, ready, results = ctx.Event(), ctx.Event(), ctx.Queue()
    flooder = ctx.Process(target=_flood_process, args=(base, flood_concurrency, stop, ready, results), daemon=True)
    flooder.start()
    started = time.perf_counter()
    try:
        if not await asyncio.get_running_loop().run_in_executor(None, ready.wait, 60):
            raise RuntimeError("the flooding process sent nothing within 60 s")
        await asyncio.sleep(1.0)  # the flood is under way before the others start
        loaded = await _conversations(base, "load", rounds)
    finally:
        stop.set()
    flood = await asyncio.get_running_loop().run_in_executor(None, results.get, True, 60)
    flooder.join(10)
    elapsed = time.perf_counter() - started
    counts, retry_after_ok = flood["statuses"], flood["retry_after_ok"]
    base_p95, load_p95 = summarise(unloaded)["p95_ms"], summarise(loaded)["p95_ms"]
    ratio = round(load_p95 / base_p95, 2) if base_p95 else float("inf")
    return {
        "sender_limit": sender_limit,
        "flood": {"concurrency": flood_concurrency, "seconds": round(elapsed, 1), "statuses": counts,
                  "requests": sum(counts.values()), "retry_after_and_hotlines_in_every_429": retry_after_ok},
        "others_unloaded": summarise(unloaded),
        "others_during_flood": summarise(loaded),
        "others_p95_ratio": ratio,
        "others_p95_within_1_5x": ratio <= P95_TARGET_RATIO,
    }




class TimingLog:
    """The tracker store's timing lines (`timing_log:` in the bench's endpoints file)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = 0

    def new_records(self) -> List[Dict[str, Any]]:
        """The records written since the last call."""
        if not self.path.exists():
            return []
        with self.path.open("rb") as handle:
            handle.seek(self.offset)
            data = handle.read()
        complete = data[: data.rfind(b"\n") + 1]
        self.offset += len(complete)
        return [json.loads(line) for line in complete.decode("utf-8").splitlines() if line.strip()]


def store_costs(records: Sequence[Mapping[str, Any]]) -> Dict[str, float]:
    """Milliseconds the tracker store spent in one turn, by operation."""
    totals = {"retrieve_ms": 0.0, "save_ms": 0.0, "mask_ms": 0.0, "events": 0.0}
    for record in records:
        if record.get("op") == "retrieve":
            totals["retrieve_ms"] += float(record["ms"])
        elif record.get("op") == "save":
            totals["save_ms"] += float(record["ms"])
            totals["mask_ms"] += float(record.get("mask_ms", 0.0))
            totals["events"] = max(totals["events"], float(record.get("events", 0)))
    return totals


def custom_action_of_turn(tracker: Mapping[str, Any], custom_actions: Sequence[str]) -> Optional[str]:
    """The custom action (run by the action server) of the tracker's latest turn, if any."""
    for event in reversed(tracker.get("events") or []):
        if event.get("event") == "user":
            return None
        if event.get("event") == "action" and event.get("name") in custom_actions:
            return event["name"]
    return None


async def _json(session: aiohttp.ClientSession, method: str, url: str, **kwargs: Any) -> Any:
    async with session.request(method, url, **kwargs) as response:
        if response.status != 200:
            raise RuntimeError(f"{method} {url} answered {response.status}")
        return await response.json(content_type=None)


def _median(values: Sequence[float]) -> float:
    return round(statistics.median(values), 1) if values else 0.0


async def measure_turn_stages(
    base: str, rasa: str, actions: str, log: TimingLog, conversations: int, send_domain: bool, token: str = ""
) -> Dict[str, Any]:
    """One chat turn stage by stage, the CHAT_SCRIPT conversations, sequentially.

    Per turn: the gateway's /api/v1/chat (one sender) and Rasa's REST channel (a twin
    sender, same messages): their difference is the gateway's own cost; /model/parse of
    the message (NLU alone); the tracker store's retrieve and save (timing log); the
    action server's handling of the turn's custom action, replayed with the tracker
    Rasa holds after the turn (the payload Rasa sends, give or take this turn's replies).
    What is left of Rasa's turn is the dialogue: policies, events, the action call's
    wait and the REST channel.
    """
    stages: Dict[str, List[float]] = {k: [] for k in (
        "gateway_turn", "rasa_turn", "nlu_parse", "action_server", "tracker_retrieve",
        "tracker_save", "tracker_mask", "gateway_overhead", "dialogue_rest")}
    async with aiohttp.ClientSession() as session:
        auth = f"?token={token}" if token else ""  # Rasa's HTTP API runs with --auth-token
        domain = await _json(session, "GET", f"{rasa}/domain{auth}", headers={"Accept": "application/json"})
        custom = [a for a in domain.get("actions", []) if isinstance(a, str) and not a.startswith("utter_")]
        for conversation in range(conversations):
            for message in CHAT_SCRIPT:
                sender = f"stages-{conversation}"
                nlu = await _timed_post(session, f"{rasa}/model/parse{auth}", {"text": message})
                log.new_records()
                turn = await _timed_post(session, f"{rasa}/webhooks/rest/webhook", {"sender": sender, "message": message})
                store = store_costs(log.new_records())
                tracker = await _json(session, "GET", f"{rasa}/conversations/{sender}/tracker{auth}")
                log.new_records()  # that GET retrieved the tracker too
                action_ms = 0.0
                name = custom_action_of_turn(tracker, custom)
                if name:
                    payload = {"next_action": name, "sender_id": sender, "tracker": tracker, "version": "3.6"}
                    if send_domain:
                        payload["domain"] = domain
                    action_ms = await _timed_post(session, f"{actions}/webhook", payload)
                gateway = await _timed_post(session, f"{base}/api/v1/chat", {"sender": f"gw-{sender}", "message": message})
                log.new_records()
                stages["gateway_turn"].append(gateway)
                stages["rasa_turn"].append(turn)
                stages["nlu_parse"].append(nlu)
                stages["action_server"].append(action_ms)
                stages["tracker_retrieve"].append(store["retrieve_ms"])
                stages["tracker_save"].append(store["save_ms"])
                stages["tracker_mask"].append(store["mask_ms"])
                stages["gateway_overhead"].append(gateway - turn)
                stages["dialogue_rest"].append(
                    turn - nlu - action_ms - store["retrieve_ms"] - store["save_ms"])
    return {
        "turns": len(stages["rasa_turn"]),
        "p50_ms": {name: _median(values) for name, values in stages.items()},
        "p95_ms": {name: round(percentile(values, 95), 1) for name, values in stages.items()},
        "note": "medians per stage over the same turns; dialogue_rest = rasa_turn - nlu_parse"
                " - action_server - tracker_retrieve - tracker_save (policies, events, REST channel)",
    }


async def measure_long_conversation(rasa: str, log: TimingLog, turns: int) -> Dict[str, Any]:
    """One sender, `turns` turns through Rasa's REST channel: does a turn cost more later on?

    Rasa directly, not the gateway: the gateway's per-sender rate limit (20/min) would refuse
    a 300-turn burst, and the part whose cost grew with the conversation is Rasa's (tracker
    read, policies, save); the gateway adds a constant few ms (chat_turn_stages)."""
    gateway: List[float] = []
    store: List[Dict[str, float]] = []
    async with aiohttp.ClientSession() as session:
        log.new_records()
        for i in range(turns):
            message = LONG_SCRIPT[i % len(LONG_SCRIPT)]
            gateway.append(await _timed_post(session, f"{rasa}/webhooks/rest/webhook", {"sender": "long-1", "message": message}))
            store.append(store_costs(log.new_records()))
    window = len(LONG_SCRIPT)
    marks: Dict[str, Any] = {}
    for mark in (m for m in LONG_MARKS if m <= turns):
        chunk = slice(max(0, mark - window), max(mark, window))
        marks[f"turn_{mark}"] = {
            "turn_ms": round(gateway[mark - 1], 1),
            "window_p50_ms": _median(gateway[chunk]),
            "tracker_save_p50_ms": _median([s["save_ms"] for s in store[chunk]]),
            "tracker_retrieve_p50_ms": _median([s["retrieve_ms"] for s in store[chunk]]),
            "events_stored": int(store[mark - 1]["events"]),
        }
    first, last = marks.get("turn_1"), marks.get(f"turn_{max(m for m in LONG_MARKS if m <= turns)}")
    ratio = round(last["window_p50_ms"] / first["window_p50_ms"], 2) if first and last else None
    return {"turns": turns, "window": window, "marks": marks, "last_to_first_ratio": ratio,
            "note": "window_p50_ms: median of the ten turns ending at the mark (turn_1: turns 1-10)"}


async def _timed(session: aiohttp.ClientSession, method: str, url: str, expect: int, **kwargs: Any):
    """(milliseconds, body) of one request that must answer `expect`."""
    started = time.perf_counter()
    async with session.request(method, url, **kwargs) as response:
        body = await response.read()
        if response.status != expect:
            raise RuntimeError(f"{method} {url} answered {response.status}, expected {expect}: {body[:200]!r}")
    return (time.perf_counter() - started) * 1000, body


async def _log_in(session: aiohttp.ClientSession, base: str, credentials: Credentials) -> None:
    form = {"username": credentials.username, "password": credentials.password, "next": "/console"}
    await _timed(session, "POST", f"{base}/console/login", 302, data=form, allow_redirects=False)
    # Open the desk as the page does: it gives this login session its draft key.
    await _timed(session, "GET", f"{base}/console", 200, headers={"Accept": "text/html"}, allow_redirects=False)


async def _desk_round_trips(session: aiohttp.ClientSession, base: str, rounds: int) -> List[float]:
    samples: List[float] = []
    # The socket refuses other sites: send our own origin, as the browser does.
    async with session.ws_connect(f"{base}/console/ws", headers={"Origin": base}) as ws:
        for seq in range(1, rounds + 1):
            started = time.perf_counter()
            await ws.send_json(desk_message(seq, ASSESS_TEXTS[seq % len(ASSESS_TEXTS)]))
            while desk_reply_view(await ws.receive_json(timeout=60), seq) is None:
                pass
            samples.append((time.perf_counter() - started) * 1000)
    return samples


async def measure_operator(base: str, credentials: Credentials, rounds: int, pdf_rounds: int) -> Dict:
    """Cases API, the console's live assessment, the statistics API and the PDFs."""
    api = {"Authorization": f"Bearer {credentials.api_token}"}
    jar = aiohttp.CookieJar(unsafe=True)  # the session cookie of a 127.0.0.1 address
    async with aiohttp.ClientSession(cookie_jar=jar) as session:
        created: List[float] = []
        case_id = ""
        for i in range(rounds):
            payload = {"notes": ASSESS_TEXTS[i % len(ASSESS_TEXTS)], "channel": "phone"}
            ms, body = await _timed(session, "POST", f"{base}/api/v1/cases", 201, json=payload, headers=api)
            created.append(ms)
            case_id = json.loads(body)["id"]
        listed = [
            (await _timed(session, "GET", f"{base}/api/v1/cases?limit=50", 200, headers=api))[0]
            for _ in range(max(1, rounds // 5))
        ]
        stats = [
            (await _timed(session, "GET", f"{base}/api/v1/stats", 200, headers=api))[0]
            for _ in range(max(1, rounds // 5))
        ]

        await _log_in(session, base, credentials)
        desk = await _desk_round_trips(session, base, rounds)

        tip_sheets: List[float] = []
        for _ in range(pdf_rounds + 1):  # the first render also loads WeasyPrint: reported apart
            ms, body = await _timed(session, "GET", f"{base}{TIP_SHEET_PDF}", 200)
            check_pdf(body, TIP_SHEET_PDF)
            tip_sheets.append(ms)
        case_pdf_ms, body = await _timed(session, "GET", f"{base}/console/cases/{case_id}.pdf", 200)
        check_pdf(body, "the case PDF")
    return {
        "cases_create_sequential": summarise(created),
        "cases_list_limit50": {**summarise(listed), "cases_stored": rounds},
        "console_ws_round_trip": summarise(desk),
        "stats_sequential": summarise(stats),
        "pdf_tip_sheet": {**summarise(tip_sheets[1:]), "first_ms": round(tip_sheets[0], 1),
                          "path": TIP_SHEET_PDF},
        "pdf_case_ms": round(case_pdf_ms, 1),
    }


async def measure_image(base: str, rounds: int, gateway_pid: int) -> Dict:
    """POST /api/v1/assess/image with generated phone screenshots (bot.vision.screenshots,
    texts of data/screenshots/texts.yml), one at a time; the first call loads the OCR models
    (reported apart), and the gateway's memory is read before it and after the last."""
    from bot.vision.screenshots import load_texts, sample

    shots = [shot for _source, shot in sample(load_texts(), rounds + 1)]
    rss_before = rss_mb(gateway_pid)
    times: List[float] = []
    async with aiohttp.ClientSession() as session:
        for i, shot in enumerate(shots):
            form = aiohttp.FormData()
            form.add_field("image", shot.image, filename=f"shot-{i}.png", content_type="application/octet-stream")
            ms, _body = await _timed(session, "POST", f"{base}/api/v1/assess/image", 200, data=form)
            times.append(ms)
    return {"assess_image": {**summarise(times[1:]), "first_ms": round(times[0], 1),
                             "screenshots": len(times) - 1,
                             "gateway_rss_added_mb": round(rss_mb(gateway_pid) - rss_before, 1)}}


def rss_mb(pid: int) -> float:
    """Resident memory of a process and its children, in MB (from /proc)."""
    total = 0
    pids = [str(pid)]
    try:
        children = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split()
        pids += children
    except FileNotFoundError:
        pass
    for p in pids:
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return round(total / 1024, 1)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=300)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--load-seconds", type=float, default=15)
    parser.add_argument("--operator-rounds", type=int, default=100,
                        help="cases created and console round trips")
    parser.add_argument("--pdf-rounds", type=int, default=10)
    parser.add_argument("--image-rounds", type=int, default=20, help="screenshots sent to /api/v1/assess/image")
    parser.add_argument("--rate-limit-rounds", type=int, default=3,
                        help="conversations per other sender in the rate-limit phase")
    parser.add_argument("--flood-concurrency", type=int, default=20)
    parser.add_argument("--only-rate-limits", action="store_true",
                        help="the rate-limit phase alone (writes reports/bench-rate-limit.json)")


    parser.add_argument("--stage-conversations", type=int, default=20,
                        help="CHAT_SCRIPT conversations measured stage by stage")
    parser.add_argument("--long-turns", type=int, default=300, help="turns of the long conversation")
    parser.add_argument("--chat-only", action="store_true",
                        help="only the chat parts: no assess load, no operator or outreach parts")
    parser.add_argument("--out", default="bench.json", help="file name under reports/")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="fzzc-bench-") as state_dir:
        return run(args, Path(state_dir))


def timed_endpoints(source: Path, target: Path, timing_log: Path) -> bool:
    """`source` (an endpoints file) copied to `target` with the tracker store's timing log on.

    Returns whether Rasa sends the domain with every action call (no selective domain)."""
    endpoints = yaml.safe_load(source.read_text(encoding="utf-8")) or {}
    store = endpoints.get("tracker_store") or {}
    if "MaskingTrackerStore" not in str(store.get("type", "")):
        raise RuntimeError(f"{source}: the tracker store is not the masking store; cannot time it")
    store["timing_log"] = str(timing_log)
    endpoints["tracker_store"] = store
    target.write_text(yaml.safe_dump(endpoints, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return not (endpoints.get("action_endpoint") or {}).get("enable_selective_domain", False)


def run(args: argparse.Namespace, state_dir: Path) -> int:
    credentials = new_credentials()
    save_operator(state_dir / "operators.yml", credentials.username, credentials.password, "压测账号")
    env = isolated_settings(stack.environment(), state_dir, credentials)
    env.update(bench_ports(env))
    settings = Settings.from_env(env)
    timing = TimingLog(state_dir / "tracker-timing.jsonl")
    send_domain = timed_endpoints(ROOT / settings.rasa_endpoints, state_dir / "endpoints.yml", timing.path)
    env["RASA_ENDPOINTS"] = str(state_dir / "endpoints.yml")
    settings = Settings.from_env(env)
    processes = {}
    started = time.monotonic()
    for name, cmd in stack.commands(settings).items():
        processes[name] = subprocess.Popen(
            cmd, cwd=ROOT, env=env, start_new_session=True,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
    base = f"http://127.0.0.1:{env['GATEWAY_PORT']}"
    try:
        while not stack.healthy(f"{base}/healthz"):
            if time.monotonic() - started > settings.startup_timeout_s:
                print("stack did not become healthy", file=sys.stderr)
                return 1
            if any(p.poll() is not None for p in processes.values()):
                print("a component exited during start-up", file=sys.stderr)
                return 1
            time.sleep(0.25)
        report: Dict = {"time_to_healthy_s": round(time.monotonic() - started, 1)}
        print(f"healthy after {report['time_to_healthy_s']} s; measuring …", flush=True)
        if not args.only_rate_limits:
            report.update(asyncio.run(measure(base, args.rounds, args.concurrency,
                                              0 if args.chat_only else args.load_seconds)))
            print("measuring a chat turn stage by stage …", flush=True)
            report["chat_turn_stages"] = asyncio.run(measure_turn_stages(
                base, settings.rasa_base_url, settings.actions_base_url, timing,
                args.stage_conversations, send_domain, credentials.rasa_token))
            print(f"measuring a conversation of {args.long_turns} turns …", flush=True)
            report["long_conversation"] = asyncio.run(measure_long_conversation(settings.rasa_base_url, timing, args.long_turns))
            report["memory_rss_mb_before_operator"] = {"gateway": rss_mb(processes["gateway"].pid)}
        if not args.chat_only:
            print("measuring the rate limits (one sender flooding) …", flush=True)
            report["rate_limit"] = asyncio.run(measure_rate_limits(
                base, args.rate_limit_rounds, args.flood_concurrency, settings.rate_limit_chat_sender))
        if not (args.only_rate_limits or args.chat_only):
            print("measuring the operator and outreach parts …", flush=True)
            report.update(asyncio.run(measure_operator(base, credentials, args.operator_rounds, args.pdf_rounds)))
            if args.image_rounds > 0:
                print(f"measuring the screenshot reader ({args.image_rounds} screenshots) …", flush=True)
                report.update(asyncio.run(measure_image(base, args.image_rounds, processes["gateway"].pid)))
        report["memory_rss_mb"] = {name: rss_mb(p.pid) for name, p in processes.items()}
        report["machine"] = {"cpus": os.cpu_count()}
        report["gateway_runtime"] = stack.gateway_runtime(settings)  # issue 17: the gateway's own runtime
    except (RuntimeError, aiohttp.ClientError, asyncio.TimeoutError) as err:
        print(f"benchmark failed: {err!r}", file=sys.stderr)
        return 1
    finally:
        stack.stop_all(processes)
    REPORTS.mkdir(exist_ok=True)
    out = "bench-rate-limit.json" if args.only_rate_limits else args.out
    (REPORTS / out).write_text(json.dumps(report, ensure_ascii=False, indent=2))
    print(json.dumps(report, ensure_ascii=False, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
