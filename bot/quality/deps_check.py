"""`make deps-check`: each direct dependency of both environments, its pin against the newest
release on the package index, and what holds it back.

    python -m bot.quality.deps_check [--json reports/deps.json]

Direct dependencies are the `name==version` lines of each environment's requirements files
(`-r` followed). The newest release is what `pip index versions NAME` of that environment's
interpreter prints (so it is the newest release *for that Python*). In Rasa's environment a
dependency that Rasa itself constrains shows Rasa's specifier: such a pin moves only with Rasa
(README, "Dependencies"). Needs the network (PyPI); never part of `make test`.
"""
from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Dict, List, Optional, Sequence

from bot.settings import ROOT, Settings

PIN = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._\[\],-]*)\s*==\s*([^\s;#]+)")
INCLUDE = re.compile(r"^\s*-r\s+(\S+)")
NEWEST = re.compile(r"^\S+ \(([^)]+)\)")
PIP_INDEX_TIMEOUT_S = 60


@dataclass(frozen=True)
class Environment:
    name: str
    python: Path
    requirements: Path
    constrained_by: Optional[str] = None  # a package whose own requirements hold pins back


@dataclass
class Row:
    environment: str
    package: str
    pinned: str
    newest: str
    status: str  # current | behind | unknown
    held_by: str = ""  # e.g. "rasa: aiohttp<3.10,>=3.9.0"


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name.split("[", 1)[0]).lower()


def direct_pins(requirements: Path) -> Dict[str, str]:
    """name → pinned version of every `name==version` line, `-r` includes followed."""
    pins: Dict[str, str] = {}
    for line in requirements.read_text(encoding="utf-8").splitlines():
        include = INCLUDE.match(line)
        if include:
            pins.update(direct_pins(requirements.parent / include.group(1)))
            continue
        pin = PIN.match(line)
        if pin:
            pins[pin.group(1).split("[", 1)[0]] = pin.group(2)
    return pins


def newest_release(python: Path, package: str) -> str:
    """The newest release for that interpreter, from `pip index versions` ("" if unknown)."""
    try:
        out = subprocess.run(
            [str(python), "-m", "pip", "index", "versions", package, "--disable-pip-version-check"],
            capture_output=True, text=True, timeout=PIP_INDEX_TIMEOUT_S,
        ).stdout
    except (OSError, subprocess.TimeoutExpired):
        return ""
    for line in out.splitlines():
        match = NEWEST.match(line.strip())
        if match:
            return match.group(1)
    return ""


def held_back(python: Path, package: str) -> Dict[str, str]:
    """canonical name → the requirement line `package` declares for it (in that environment)."""
    code = (
        "import importlib.metadata as m, json, sys; "
        "print(json.dumps(m.requires(sys.argv[1]) or []))"
    )
    try:
        out = subprocess.run([str(python), "-c", code, package], capture_output=True, text=True, timeout=60)
        lines = json.loads(out.stdout or "[]")
    except (OSError, subprocess.TimeoutExpired, json.JSONDecodeError):
        return {}
    held: Dict[str, str] = {}
    for line in lines:
        requirement = line.split(";", 1)[0].strip()  # extras too: the project installs rasa[spacy,jieba]
        name = re.match(r"[A-Za-z0-9._-]+", requirement)
        if name and any(op in requirement for op in ("<", "==", "~=")):
            held[canonical(name.group(0))] = requirement
    return held


def compare(pinned: str, newest: str) -> str:
    if not newest:
        return "unknown"
    return "current" if pinned == newest else "behind"


def check(env: Environment, workers: int = 8) -> List[Row]:
    pins = direct_pins(env.requirements)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        newest = dict(zip(pins, pool.map(lambda p: newest_release(env.python, p), pins)))
    held = held_back(env.python, env.constrained_by) if env.constrained_by else {}
    rows = []
    for package, version in sorted(pins.items(), key=lambda kv: kv[0].lower()):
        latest = newest.get(package, "")
        rows.append(Row(env.name, package, version, latest, compare(version, latest),
                        f"{env.constrained_by}: {held[canonical(package)]}" if canonical(package) in held else ""))
    return rows


def render(rows: Sequence[Row]) -> str:
    header = ("environment", "package", "pinned", "newest", "status", "held back by")
    table = [header] + [(r.environment, r.package, r.pinned, r.newest or "?", r.status, r.held_by) for r in rows]
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in table]
    behind = sum(r.status == "behind" for r in rows)
    held = sum(bool(r.held_by) and r.status == "behind" for r in rows)
    unknown = sum(r.status == "unknown" for r in rows)
    lines.append(f"\n{len(rows)} direct dependencies: {behind} behind ({held} of them held back by Rasa), "
                 f"{unknown} unknown (index not reached)")
    return "\n".join(lines)


def environments(settings: Settings) -> List[Environment]:
    return [
        Environment("rasa (3.10)", settings.rasa_bin("python"), ROOT / "requirements-dev.txt", constrained_by="rasa"),
        Environment("gateway (3.12)", settings.gateway_python, ROOT / "requirements-gateway-dev.txt"),
        Environment("load", ROOT / ".venv-load" / "bin" / "python", ROOT / "requirements-load.txt"),
    ]


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot.quality.deps_check", description=__doc__.split("\n")[0])
    parser.add_argument("--json", type=Path, default=ROOT / "reports" / "deps.json", help="also write the rows here")
    args = parser.parse_args(argv)
    rows: List[Row] = []
    for env in environments(Settings()):
        if not env.python.exists():
            print(f"deps-check: {env.name}: {env.python} is not installed (make install); skipped", file=sys.stderr)
            continue
        print(f"deps-check: {env.name}: asking the package index …", file=sys.stderr, flush=True)
        rows.extend(check(env))
    print(render(rows))
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps([asdict(r) for r in rows], ensure_ascii=False, indent=2), encoding="utf-8")
    return 0 if rows and all(r.status != "unknown" for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
