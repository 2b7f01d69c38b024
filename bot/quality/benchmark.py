"""`make bench`: start the whole stack on spare ports and measure it.

Reports medians and percentiles (these machines are noisy): time to healthy, the
sequential latency of /api/v1/assess and of a chat turn through /api/v1/chat, the
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


def isolated_settings(env: Mapping[str, str], state_dir: Path, credentials: Credentials) -> Dict[str, str]:
    """`env` with every store of the gateway in `state_dir` and only the run's own token."""
    settings = {k: v for k, v in env.items() if k not in INHERITED_SETTINGS_DROPPED}
    settings.update({
        "CASES_URL": f"sqlite:///{state_dir / 'cases.db'}",
        "STATS_DB": str(state_dir / "stats.db"),
        "BLOCKLIST_FILE": str(state_dir / "blocklist.csv"),
        "OPERATORS_FILE": str(state_dir / "operators.yml"),
        "API_TOKENS": credentials.api_token,
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
    return Credentials(secrets.token_urlsafe(24), BENCH_OPERATOR, secrets.token_urlsafe(16))


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
    parser.add_argument("--rate-limit-rounds", type=int, default=3,
                        help="conversations per other sender in the rate-limit phase")
    parser.add_argument("--flood-concurrency", type=int, default=20)
    parser.add_argument("--only-rate-limits", action="store_true",
                        help="the rate-limit phase alone (writes reports/bench-rate-limit.json)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="fzzc-bench-") as state_dir:
        return run(args, Path(state_dir))


def run(args: argparse.Namespace, state_dir: Path) -> int:
    credentials = new_credentials()
    save_operator(state_dir / "operators.yml", credentials.username, credentials.password, "压测账号")
    env = isolated_settings(stack.environment(), state_dir, credentials)
    env.update(bench_ports(env))
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
            report.update(asyncio.run(measure(base, args.rounds, args.concurrency, args.load_seconds)))
            report["memory_rss_mb_before_operator"] = {"gateway": rss_mb(processes["gateway"].pid)}
        print("measuring the rate limits (one sender flooding) …", flush=True)
        report["rate_limit"] = asyncio.run(measure_rate_limits(
            base, args.rate_limit_rounds, args.flood_concurrency, settings.rate_limit_chat_sender))
        if not args.only_rate_limits:
            print("measuring the operator and outreach parts …", flush=True)
            report.update(asyncio.run(measure_operator(base, credentials, args.operator_rounds, args.pdf_rounds)))
        report["memory_rss_mb"] = {name: rss_mb(p.pid) for name, p in processes.items()}
        report["machine"] = {"cpus": os.cpu_count()}
    except (RuntimeError, aiohttp.ClientError, asyncio.TimeoutError) as err:
        print(f"benchmark failed: {err!r}", file=sys.stderr)
        return 1
    finally:
        stack.stop_all(processes)
    REPORTS.mkdir(exist_ok=True)
    (REPORTS / ("bench-rate-limit.json" if args.only_rate_limits else "bench.json")).write_text(json.dumps(report, ensure_ascii=False, indent=2))
    print(json.dumps(report, ensure_ascii=False, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
