"""The production profile started for a measurement (`make load`, `make chaos`).

Runs `python -m bot.runtime.stack` with PROFILE=prod as a child, with its own case store,
statistics and blocklist prefixes (so a run leaves nothing in the real ones), reads its
log for the children's pids and for restarts, and stops it (and everything it started)
at the end. Also: a snapshot of how busy the machine is (2 cores shared with others).
"""
from __future__ import annotations

import os
import re
import secrets
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Dict, List, Mapping, Optional, Tuple

from bot.runtime import stack
from bot.settings import ROOT, Settings

STARTED = re.compile(r"\[stack\] started (\S+) \(pid (\d+)\)")


def run_tag() -> str:
    return f"run{os.getpid()}"


def prod_environment(state_dir: Path, overrides: Optional[Mapping[str, str]] = None) -> Dict[str, str]:
    env = stack.environment()
    tag = run_tag()
    env.update({
        "PROFILE": "prod",
        "CASES_URL": f"sqlite:///{state_dir / 'cases.db'}",
        "STATS_DB": str(state_dir / "stats.db"),
        "STATS_REDIS_PREFIX": f"fzzc:{tag}:stats:",
        "BLOCKLIST_PREFIX": f"fanzha:{tag}:blocklist:",
        "BLOCKLIST_FILE": str(state_dir / "blocklist.csv"),
        "OPERATORS_FILE": str(state_dir / "operators.yml"),
        # Every simulated resident comes from 127.0.0.1: the per-address limits would
        # throttle the whole run (per-sender limits stay as configured).
        "RATE_LIMIT_CHAT_ADDRESS": "100000/minute",
        # Known to the harness, so it can read the tracker store through Rasa's HTTP API.
        "RASA_AUTH_TOKEN": env.get("RASA_AUTH_TOKEN") or secrets.token_hex(16),
        "RATE_LIMIT_ASSESS_ADDRESS": "100000/minute",
    })
    env.update(overrides or {})
    return stack.environment(env)  # again: the prod stores and replica URLs from the final values


class ProdStack:
    """`make run PROFILE=prod` as a child process, its log kept in `log_path`."""

    def __init__(self, env: Dict[str, str], log_path: Path) -> None:
        self.env = env
        self.settings = Settings.from_env(env)
        self.log_path = log_path
        self.lines: List[Tuple[float, str]] = []
        self.pids: Dict[str, int] = {}
        self.proc: Optional[subprocess.Popen] = None
        self._reader: Optional[threading.Thread] = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.settings.gateway_port}"

    @property
    def replica_urls(self) -> List[str]:
        return stack.replica_urls(self.settings)

    def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bot.runtime.stack"], cwd=ROOT, env=self.env,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace",
            start_new_session=True,
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        with open(self.log_path, "w", encoding="utf-8") as log:
            for line in self.proc.stdout:
                log.write(line)
                log.flush()
                if line.startswith("[stack]"):
                    self.lines.append((time.time(), line.strip()))
                    match = STARTED.search(line)
                    if match:
                        self.pids[match.group(1)] = int(match.group(2))

    def wait_healthy(self, timeout_s: float) -> float:
        """Seconds until /healthz is green; raises if the stack died or took too long."""
        started = time.monotonic()
        while not stack.healthy(f"{self.base_url}/healthz"):
            if self.proc is None or self.proc.poll() is not None:
                raise RuntimeError(f"the stack exited; see {self.log_path}")
            if time.monotonic() - started > timeout_s:
                raise RuntimeError(f"the stack was not healthy after {timeout_s:.0f} s; see {self.log_path}")
            time.sleep(0.5)
        return time.monotonic() - started

    def wait_for_line(self, pattern: str, since: float, timeout_s: float) -> Optional[float]:
        """The time a [stack] line matching `pattern` appeared after `since`, or None."""
        regex = re.compile(pattern)
        deadline = time.time() + timeout_s
        while time.time() < deadline:
            for at, line in list(self.lines):
                if at >= since and regex.search(line):
                    return at
            time.sleep(0.2)
        return None

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=40)
            except subprocess.TimeoutExpired:
                for pid in [self.proc.pid, *self.pids.values()]:
                    try:
                        os.killpg(pid, signal.SIGKILL)
                    except (ProcessLookupError, PermissionError):
                        pass
                self.proc.wait()
        if self._reader:
            self._reader.join(timeout=5)


def forget(redis_url: str, patterns: List[str]) -> int:
    """Delete the keys a measurement left in Redis (its conversations, its statistics)."""
    import redis

    client = redis.Redis.from_url(redis_url)
    deleted = 0
    for pattern in patterns:
        batch = list(client.scan_iter(match=pattern, count=500))
        for i in range(0, len(batch), 500):
            deleted += client.delete(*batch[i:i + 500])
    return deleted


def get_json(url: str, timeout_s: float = 5.0) -> Optional[dict]:
    import json

    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as response:
            return json.loads(response.read().decode("utf-8"))
    except (urllib.error.URLError, OSError, ValueError):
        return None


def process_usage(pids: Mapping[str, int]) -> Dict[str, Dict[str, float]]:
    """CPU seconds (user + system, the process and its waited-for children) and resident
    memory of each of the stack's processes, by name; a process gone is left out."""
    tick = os.sysconf("SC_CLK_TCK")
    page_mb = os.sysconf("SC_PAGE_SIZE") / 2**20
    usage: Dict[str, Dict[str, float]] = {}
    for name, pid in pids.items():
        try:
            stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            rss_pages = int(Path(f"/proc/{pid}/statm").read_text().split()[1])
        except (OSError, IndexError, ValueError):
            continue
        # Fields 14-17 of /proc/PID/stat (utime, stime, cutime, cstime); index 11 after the name.
        cpu_ticks = sum(int(v) for v in stat[11:15])
        usage[name] = {"cpu_s": round(cpu_ticks / tick, 2), "rss_mb": round(rss_pages * page_mb, 1)}
    return usage


def usage_per_turn(before: Mapping[str, Mapping[str, float]], after: Mapping[str, Mapping[str, float]],
                   turns: int) -> Dict[str, Dict[str, float]]:
    """Each process's CPU milliseconds per turn between two `process_usage` readings, and its
    memory at the end (what grows from run to run shows what accumulates)."""
    out: Dict[str, Dict[str, float]] = {}
    for name, end in after.items():
        start = before.get(name)
        if start is None or turns <= 0:
            continue
        out[name] = {"cpu_ms_per_turn": round((end["cpu_s"] - start["cpu_s"]) * 1000 / turns, 2),
                     "rss_mb": end["rss_mb"]}
    return out


def machine_snapshot(own_pids: Optional[List[int]] = None) -> Dict[str, object]:
    """Load average and the other Rasa / Python servers running on this (shared) machine."""
    own = set(own_pids or [])
    others = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) in own:
            continue
        try:
            cmd = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode("utf-8", "replace")
        except OSError:
            continue
        if "rasa run" in cmd or "bot.gateway" in cmd:
            others += 1
    one, five, fifteen = os.getloadavg()
    return {"cpus": os.cpu_count(), "loadavg_1_5_15": [round(one, 2), round(five, 2), round(fifteen, 2)],
            "other_rasa_or_gateway_processes": others}
