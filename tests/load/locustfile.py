"""`make load`: residents doing whole self-checks through the gateway's chat API.

Each simulated resident describes a situation, then answers the questions by button
until the verdict comes, pausing between turns as a person does (between 0.5 and 1.5 s;
`--no-pause` for the saturation run), and starts a new self-check under a new sender id.
Every turn is timed here and checked for its reply (a non-empty list of messages); the
figures go to `--report-file` as JSON when locust quits. Run by bot/quality/load.py in
the locust venv (.venv-load), headless, against a loopback gateway only:

    locust -f tests/load/locustfile.py --headless -u 50 -r 10 -t 60s \
        --host http://127.0.0.1:8080 --report-file /tmp/run.json
"""
from __future__ import annotations

import json
import random
import time
import uuid
from typing import Any, Dict, List
from urllib.parse import urlsplit

from locust import HttpUser, between, events, task

from bot.quality import selfcheck

RECORDS: List[Dict[str, Any]] = []  # one per turn: kind, start, ms, ok, error
MARKS: Dict[str, float] = {}


@events.init_command_line_parser.add_listener
def _options(parser) -> None:
    parser.add_argument("--report-file", default="", help="write the turn figures here (JSON)")
    parser.add_argument("--no-pause", action="store_true", default=False, help="no pause between turns")


@events.test_start.add_listener
def _loopback_only(environment, **_kw) -> None:
    host = urlsplit(environment.host or "").hostname
    if host not in {"127.0.0.1", "localhost", "::1"}:
        raise SystemExit(f"load tests run against a loopback gateway only, not {host!r}")
    MARKS["start"] = time.time()


@events.spawning_complete.add_listener
def _spawned(user_count, **_kw) -> None:
    MARKS.setdefault("spawned", time.time())


def _percentile(values: List[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, int(round(q / 100 * len(ordered) + 0.5)) - 1))
    return round(ordered[rank], 1)


def summary(records: List[Dict[str, Any]], spawned_at: float) -> Dict[str, Any]:
    ok = [r for r in records if r["ok"]]
    by_kind: Dict[str, Dict[str, float]] = {}
    for kind in sorted({r["kind"] for r in ok}):
        ms = [r["ms"] for r in ok if r["kind"] == kind]
        by_kind[kind] = {"n": len(ms), "p50": _percentile(ms, 50), "p95": _percentile(ms, 95), "p99": _percentile(ms, 99)}
    all_ms = [r["ms"] for r in ok]
    by_kind["all"] = {"n": len(all_ms), "p50": _percentile(all_ms, 50), "p95": _percentile(all_ms, 95),
                      "p99": _percentile(all_ms, 99)}
    errors: Dict[str, int] = {}
    for r in records:
        if not r["ok"]:
            errors[r["error"]] = errors.get(r["error"], 0) + 1
    steady = [r for r in records if r["start"] >= spawned_at]
    span = (max(r["start"] + r["ms"] / 1000 for r in steady) - spawned_at) if steady else 0.0
    return {
        "turns": len(records),
        "turns_replied": len(ok),
        "every_turn_replied": len(ok) == len(records),
        "errors": errors,
        "turns_per_s": round(sum(1 for r in steady if r["ok"]) / span, 2) if span > 0 else 0.0,
        "self_checks_completed": sum(1 for r in ok if r["kind"] == "verdict"),
        "latency_ms": by_kind,
    }


@events.quitting.add_listener
def _write_report(environment, **_kw) -> None:
    path = environment.parsed_options.report_file if environment.parsed_options else ""
    if path:
        report = summary(RECORDS, MARKS.get("spawned", MARKS.get("start", 0.0)))
        report["users"] = environment.parsed_options.num_users
        report["pause"] = not environment.parsed_options.no_pause
        with open(path, "w", encoding="utf-8") as fh:
            json.dump(report, fh, ensure_ascii=False, indent=2)


class Resident(HttpUser):
    _pause = staticmethod(between(0.5, 1.5))

    def wait_time(self) -> float:
        return 0.0 if self.environment.parsed_options.no_pause else self._pause(self)

    def on_start(self) -> None:
        self.rng = random.Random()

    def _turn(self, sender: str, message: str, index: int):
        started = time.time()
        t0 = time.perf_counter()
        with self.client.post("/api/v1/chat", json={"sender": sender, "message": message},
                              name="describe" if index == 0 else "answer", catch_response=True) as response:
            ms = (time.perf_counter() - t0) * 1000
            replies = None
            error = ""
            if response.status_code != 200:
                error = f"HTTP {response.status_code}"
            else:
                try:
                    replies = response.json()
                except ValueError:
                    error = "not JSON"
                if not error and not selfcheck.is_reply(replies):
                    error = "no reply"
            if error:
                response.failure(error)
                replies = None
            RECORDS.append({"kind": selfcheck.turn_kind(index, replies or []), "start": started, "ms": ms,
                            "ok": not error, "error": error})
            return replies

    @task
    def self_check(self) -> None:
        sender = f"load-{uuid.uuid4().hex[:16]}"
        replies = self._turn(sender, selfcheck.script(self.rng), 0)
        for index in range(1, selfcheck.MAX_ANSWERS + 1):
            if replies is None or selfcheck.has_verdict(replies):
                return
            answer = selfcheck.next_answer(replies, self.rng)
            if answer is None:
                return
            self.wait()
            replies = self._turn(sender, answer, index)
