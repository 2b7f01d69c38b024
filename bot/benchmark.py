"""`make bench`: start the whole stack on spare ports and measure it.

Reports medians and percentiles (these machines are noisy): time to healthy, the
sequential latency of /api/v1/assess and of a chat turn through /api/v1/chat, the
throughput of /api/v1/assess under concurrent load, and the memory of each process.
Writes reports/bench.json.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, List, Sequence

import aiohttp

from bot import stack

ROOT = Path(__file__).resolve().parents[1]
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
    args = parser.parse_args(argv)
    env = stack.environment()
    env.update({"RASA_PORT": "15005", "ACTIONS_PORT": "15055", "GATEWAY_PORT": "18080"})
    os.environ.update(env)
    processes = {}
    started = time.monotonic()
    for name, cmd in stack.commands(env).items():
        processes[name] = subprocess.Popen(
            cmd, cwd=ROOT, env=env, start_new_session=True,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
    base = f"http://127.0.0.1:{env['GATEWAY_PORT']}"
    try:
        while not stack.healthy(f"{base}/healthz"):
            if time.monotonic() - started > stack.STARTUP_TIMEOUT_S:
                print("stack did not become healthy", file=sys.stderr)
                return 1
            if any(p.poll() is not None for p in processes.values()):
                print("a component exited during start-up", file=sys.stderr)
                return 1
            time.sleep(0.25)
        report: Dict = {"time_to_healthy_s": round(time.monotonic() - started, 1)}
        print(f"healthy after {report['time_to_healthy_s']} s; measuring …", flush=True)
        report.update(asyncio.run(measure(base, args.rounds, args.concurrency, args.load_seconds)))
        report["memory_rss_mb"] = {name: rss_mb(p.pid) for name, p in processes.items()}
        report["machine"] = {"cpus": os.cpu_count()}
    finally:
        stack.stop_all(processes)
    REPORTS.mkdir(exist_ok=True)
    (REPORTS / "bench.json").write_text(json.dumps(report, ensure_ascii=False, indent=2))
    print(json.dumps(report, ensure_ascii=False, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
