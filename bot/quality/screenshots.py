"""How well screenshots are read: character error rate and verdict match on generated shots.

The screenshots come from bot.vision.screenshots (texts in data/screenshots/texts.yml). For
each: the text the reader returns vs the bubbles' text (CER), and the verdict's scam type on
the text read vs on the source text. Used by `make eval` / `make eval-dev`
(bot.quality.evaluation), `make bench` (p95 of the image endpoint) and
`python -m bot.quality.screenshots --compare` (RapidOCR vs Tesseract, docs/ocr.md).
"""
from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
import unicodedata
from typing import Callable, Dict, List, Optional, Sequence

from bot.vision.engines import OcrEngine, RapidOcrEngine, TesseractEngine
from bot.vision.images import check_image
from bot.vision.reader import read_picture
from bot.vision.screenshots import load_texts, sample


def _normalise(text: str) -> str:
    """Compared without whitespace and with full-/half-width forms folded (，= , ：= :)."""
    return "".join(unicodedata.normalize("NFKC", text).split())


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance (insertions, deletions, substitutions), one row at a time."""
    if len(a) < len(b):
        a, b = b, a
    row = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        prev, row[0] = row[0], i
        for j, cb in enumerate(b, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (ca != cb))
    return row[-1]


def char_error_rate(reference: str, hypothesis: str) -> float:
    ref, hyp = _normalise(reference), _normalise(hypothesis)
    return edit_distance(ref, hyp) / max(1, len(ref))


def _rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def read_all(engine: OcrEngine, limit: int = 0) -> Dict:
    """Every generated screenshot read by `engine`: per-shot CER and time, and the texts read."""
    rows: List[Dict] = []
    rss_before = _rss_mb()
    for source, shot in sample(load_texts(), limit):
        image = check_image(shot.image).image
        wall, cpu = time.monotonic(), time.process_time()
        text = read_picture(engine, image)
        rows.append({"source": source, "expected": shot.expected, "text": text,
                     "cer": char_error_rate(shot.expected, text),
                     "seconds": time.monotonic() - wall, "cpu_seconds": time.process_time() - cpu,
                     "style": f"{shot.style.app}/{'dark' if shot.style.dark else 'light'}/"
                              f"{shot.style.size[0]}x{shot.style.size[1]}"
                              f"{'/jpeg' if shot.style.jpeg_quality else ''}{'/group' if shot.style.group else ''}"})
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024  # tesseract runs as a child
    return {"rows": rows, "rss_added_mb": round(max(0.0, _rss_mb() - rss_before), 1),
            "child_peak_rss_mb": round(children, 1)}


def summary(rows: Sequence[Dict]) -> Dict:
    cers = [r["cer"] for r in rows]
    seconds = sorted(r["seconds"] for r in rows)
    total_chars = sum(len(_normalise(r["expected"])) for r in rows)
    errors = sum(round(r["cer"] * max(1, len(_normalise(r["expected"])))) for r in rows)
    by_style: Dict[str, List[float]] = {}
    for r in rows:
        for part in r["style"].split("/"):
            by_style.setdefault(part, []).append(r["cer"])
    return {
        "screenshots": len(rows),
        "cer": round(errors / max(1, total_chars), 4),  # over all characters
        "cer_mean": round(statistics.mean(cers), 4) if cers else None,
        "exact": sum(c == 0 for c in cers),
        "seconds_mean": round(statistics.mean(seconds), 3) if seconds else None,
        "seconds_p95": round(seconds[max(0, int(len(seconds) * 0.95) - 1)], 3) if seconds else None,
        "cpu_seconds_mean": round(statistics.mean(r["cpu_seconds"] for r in rows), 3) if rows else None,
        "cer_by_style": {k: round(statistics.mean(v), 4) for k, v in sorted(by_style.items())},
    }


def verdict_match(rows: Sequence[Dict], verdicts: Callable[[Sequence[str]], List]) -> Dict:
    """Share of screenshots whose text read gets the scam type the source text gets."""
    sources = [" ".join(r["expected"].splitlines()) for r in rows]
    read = [" ".join(r["text"].splitlines()) for r in rows]
    both = verdicts(list(sources) + list(read))
    src, got = both[:len(rows)], both[len(rows):]
    misses = [{"expected_type": a.scam_type, "read_type": b.scam_type, "text": r["text"][:80]}
              for a, b, r in zip(src, got, rows) if a.scam_type != b.scam_type]
    return {"type_match": round(1 - len(misses) / max(1, len(rows)), 4), "mismatches": misses[:20]}


def evaluate(verdicts: Callable[[Sequence[str]], List], limit: int = 0,
             engine: Optional[OcrEngine] = None) -> Dict:
    """The `screenshots` section of reports/eval.json."""
    engine = engine or RapidOcrEngine()
    read = read_all(engine, limit)
    report = {"engine": engine.name, **summary(read["rows"]), **verdict_match(read["rows"], verdicts)}
    worst = sorted(read["rows"], key=lambda r: -r["cer"])[:5]
    report["worst"] = [{"style": r["style"], "cer": round(r["cer"], 3), "expected": r["expected"], "text": r["text"]}
                       for r in worst if r["cer"] > 0]
    return report


def _one_engine(name: str, limit: int) -> Dict:
    engine: OcrEngine = RapidOcrEngine() if name == "rapidocr" else TesseractEngine()
    started = time.monotonic()
    warm = getattr(engine, "warm_up", None)
    if warm is not None:
        warm()
    load_s = time.monotonic() - started
    read = read_all(engine, limit)
    return {"engine": name, "load_seconds": round(load_s, 2), **summary(read["rows"]),
            "rss_added_mb": read["rss_added_mb"], "child_peak_rss_mb": read["child_peak_rss_mb"]}


def compare(limit: int) -> Dict:
    """Both engines on the same screenshots, each in a fresh process (so memory is its own)."""
    out = {}
    for name in ("rapidocr", "tesseract"):
        result = subprocess.run([sys.executable, "-m", "bot.quality.screenshots", "--engine", name,
                                 "--limit", str(limit)], capture_output=True, text=True, check=True)
        out[name] = json.loads(result.stdout.strip().splitlines()[-1])
    with open("/proc/loadavg") as load:
        out["load_average"] = load.read().split()[:3]
    return out


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--compare", action="store_true", help="RapidOCR vs Tesseract on the same screenshots")
    parser.add_argument("--engine", choices=("rapidocr", "tesseract"), help="one engine (used by --compare)")
    parser.add_argument("--limit", type=int, default=60, help="first N texts of texts.yml (0: all)")
    args = parser.parse_args(argv)
    if args.engine:
        print(json.dumps(_one_engine(args.engine, args.limit), ensure_ascii=False))
        return 0
    print(json.dumps(compare(args.limit), ensure_ascii=False, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
