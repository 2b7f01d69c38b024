"""`make load`: the production profile under residents doing whole self-checks (locust).

Starts `make run PROFILE=prod` on the caller's ports (or uses a running gateway with
`--base-url`), then runs tests/load/locustfile.py headless from the locust venv:

1. `--runs` paced runs: `--users` residents pausing 0.5–1.5 s between turns for
   `--duration` s (median over the runs);
2. the saturation run: no pauses, users ramped through `--steps`, each for `--step-duration`
   s, until turns/s stops rising (under 3 % more than the best so far); the report names
   the first step whose p95 passed 250 ms and the step where turns/s stopped rising.

Writes reports/load.json: turns/s, p50/p95/p99 per turn type (describe, answer, verdict),
errors, whether every turn got its reply, the saturation point, and how busy the machine
was (load average, other Rasa servers running). Loopback only.
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

from bot.quality.prodstack import (
    ProdStack,
    forget,
    machine_snapshot,
    process_usage,
    prod_environment,
    run_tag,
    usage_per_turn,
)
from bot.settings import ROOT

LOCUSTFILE = ROOT / "tests" / "load" / "locustfile.py"
P95_LIMIT_MS = 250.0
STILL_RISING = 1.03  # a step must beat the best turns/s so far by 3 % to count as rising
TARGET_TURNS_PER_S = 40.0


def run_locust(locust: Path, base_url: str, users: int, duration_s: int, pause: bool, out: Path,
               spawn_rate: Optional[int] = None) -> Dict[str, Any]:
    cmd = [
        str(locust), "-f", str(LOCUSTFILE), "--headless", "--only-summary", "--loglevel", "WARNING",
        "-u", str(users), "-r", str(spawn_rate or users), "-t", f"{duration_s}s", "--stop-timeout", "10",
        "--host", base_url, "--report-file", str(out),
    ]
    if not pause:
        cmd.append("--no-pause")
    env = {"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}
    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=duration_s + 120)
    if not out.exists():
        raise RuntimeError(f"locust wrote no report (exit {done.returncode}): {done.stderr[-2000:]}")
    return json.loads(out.read_text(encoding="utf-8"))


def median_of(runs: Sequence[Dict[str, Any]]) -> Dict[str, Any]:
    kinds = sorted({k for r in runs for k in r["latency_ms"]})
    latency = {
        kind: {q: round(statistics.median(r["latency_ms"][kind][q] for r in runs if kind in r["latency_ms"]), 1)
               for q in ("p50", "p95", "p99")}
        for kind in kinds
    }
    return {
        "turns_per_s": round(statistics.median(r["turns_per_s"] for r in runs), 2),
        "latency_ms": latency,
        "turns": sum(r["turns"] for r in runs),
        "turns_without_reply": sum(r["turns"] - r["turns_replied"] for r in runs),
        "errors": sum(sum(r["errors"].values()) for r in runs),
    }


def saturation(locust: Path, base_url: str, steps: Sequence[int], step_s: int, tmp: Path) -> Dict[str, Any]:
    """Ramp users with no pauses; the first step past p95 250 ms, and where turns/s stops rising."""
    results: List[Dict[str, Any]] = []
    best = 0.0
    p95_point: Optional[Dict[str, Any]] = None
    plateau: Optional[Dict[str, Any]] = None
    for users in steps:
        report = run_locust(locust, base_url, users, step_s, pause=False, out=tmp / f"sat-{users}.json")
        row = {"users": users, "turns_per_s": report["turns_per_s"], "p95_ms": report["latency_ms"]["all"]["p95"],
               "p50_ms": report["latency_ms"]["all"]["p50"], "errors": sum(report["errors"].values())}
        results.append(row)
        print(f"load: saturation {users} users: {row['turns_per_s']} turns/s, p95 {row['p95_ms']} ms", flush=True)
        if p95_point is None and row["p95_ms"] > P95_LIMIT_MS:
            p95_point = row
        if best and row["turns_per_s"] < best * STILL_RISING:
            plateau = row
            break
        best = max(best, row["turns_per_s"])
    point = p95_point or plateau
    return {
        "steps": results,
        "point": {**point, "why": "p95 passed 250 ms" if point is p95_point else "turns/s stopped rising"} if point else None,
        "p95_passed_250ms_at": p95_point,
        "turns_per_s_stopped_rising_at": plateau,
        "max_turns_per_s": max((r["turns_per_s"] for r in results), default=0.0),
    }


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--spawn-rate", type=int, default=10)
    parser.add_argument("--duration", type=int, default=60, help="seconds per paced run")
    parser.add_argument("--runs", type=int, default=1, help="paced runs (the report gives their median)")
    parser.add_argument("--steps", default="1,2,4,8,16,32", help="saturation run: users per step ('' skips it)")
    parser.add_argument("--step-duration", type=int, default=20)
    parser.add_argument("--locust", default=str(ROOT / ".venv-load" / "bin" / "locust"))
    parser.add_argument("--base-url", default="", help="measure a gateway already running (loopback)")
    parser.add_argument("--out", default=str(ROOT / "reports" / "load.json"))
    args = parser.parse_args(argv)
    locust = Path(args.locust)
    if not locust.exists():
        print(f"load: no locust at {locust} (make load installs it in .venv-load)", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="fanzha-load-") as tmp_name:
        tmp = Path(tmp_name)
        prod: Optional[ProdStack] = None
        before = machine_snapshot()
        report: Dict[str, Any] = {"machine_before": before}
        try:
            if args.base_url:
                base_url = args.base_url.rstrip("/")
            else:
                prod = ProdStack(prod_environment(tmp), ROOT / "reports" / "load-stack.log")
                print(f"load: starting the production profile ({prod.settings.rasa_replicas} Rasa replicas) …", flush=True)
                prod.start()
                report["stack_ready_s"] = round(prod.wait_healthy(prod.settings.startup_timeout_s + 60), 1)
                base_url = prod.base_url
                report["replicas"] = prod.replica_urls
            runs = []
            for i in range(args.runs):
                usage_before = process_usage(prod.pids) if prod else {}
                r = run_locust(locust, base_url, args.users, args.duration, pause=True, out=tmp / f"run-{i}.json",
                               spawn_rate=args.spawn_rate)
                r["machine"] = machine_snapshot(list(prod.pids.values()) if prod else None)
                if prod:
                    r["processes"] = usage_per_turn(usage_before, process_usage(prod.pids), r["turns"])
                runs.append(r)
                print(f"load: run {i + 1}/{args.runs}: {args.users} residents, {r['turns_per_s']} turns/s, "
                      f"p95 {r['latency_ms']['all']['p95']} ms, {r['turns'] - r['turns_replied']} turns without reply",
                      flush=True)
                for name, used in r.get("processes", {}).items():
                    print(f"load:   {name}: {used['cpu_ms_per_turn']} ms CPU a turn, {used['rss_mb']} MB", flush=True)
                time.sleep(2)
            median = median_of(runs)
            report.update({
                "params": {"users": args.users, "spawn_rate": args.spawn_rate, "duration_s": args.duration,
                           "runs": args.runs, "pause_s": [0.5, 1.5], "base_url": base_url},
                "runs": runs,
                "median": median,
                "targets": {
                    "turns_per_s>=40": median["turns_per_s"] >= TARGET_TURNS_PER_S,
                    "p95<=250ms": median["latency_ms"]["all"]["p95"] <= P95_LIMIT_MS,
                    "no_lost_turns": median["turns_without_reply"] == 0,
                },
            })
            steps = [int(s) for s in args.steps.split(",") if s.strip()]
            if steps:
                report["saturation"] = saturation(locust, base_url, steps, args.step_duration, tmp)
            report["machine_after"] = machine_snapshot(list(prod.pids.values()) if prod else None)
            if prod:
                report["gateway_health"] = _health(base_url)
        finally:
            if prod:
                prod.stop()
                # The residents' conversations and this run's statistics, out of the real Redis.
                gone = forget(prod.env["REDIS_URL"], ["fanzha:tracker:load-*", "fanzha:lock:load-*",
                                                      f"fzzc:{run_tag()}:*", f"fanzha:{run_tag()}:*"])
                print(f"load: removed {gone} keys this run left in {prod.env['REDIS_URL']}", flush=True)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, ensure_ascii=False, indent=2), encoding="utf-8")
    print(json.dumps({"median": report.get("median"), "saturation": (report.get("saturation") or {}).get("point"),
                      "targets": report.get("targets")}, ensure_ascii=False, indent=2))
    print(f"load: wrote {out}")
    return 0


def _health(base_url: str) -> Optional[dict]:
    from bot.quality.prodstack import get_json

    return get_json(f"{base_url}/healthz")


if __name__ == "__main__":
    sys.exit(main())
