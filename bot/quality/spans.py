"""Precision and recall of indicator extraction on the hand-labelled spans.

    python -m bot.quality.spans [--data FILE] [--out FILE]

prints per-kind precision / recall / F1 and writes reports/spans.json.  A predicted span
counts as correct only when kind, start and end all match a labelled one.
"""
from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Set, Tuple

import yaml

from bot.kb.results import INDICATOR_KINDS, Indicator

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_DATA = ROOT / "data" / "indicators" / "labelled_spans.yml"
DEFAULT_REPORT = ROOT / "reports" / "spans.json"
Span = Tuple[str, int, int]


class LabelledDataError(ValueError):
    pass


def load_examples(path: Path | str = DEFAULT_DATA, section: str = "examples") -> List[Tuple[str, Set[Span]]]:
    """(text, gold spans) pairs of one section (`examples` or `heldout`); values are
    located in the text (n-th occurrence)."""
    path = Path(path)
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    examples = []
    for i, item in enumerate(data.get(section) or []):
        text = item.get("text")
        if not isinstance(text, str) or not text:
            raise LabelledDataError(f"{path}: {section}.{i}: text missing")
        gold: Set[Span] = set()
        for j, spec in enumerate(item.get("spans") or []):
            kind, value = str(spec[0]), str(spec[1])
            nth = int(spec[2]) if len(spec) > 2 else 0
            if kind not in INDICATOR_KINDS:
                raise LabelledDataError(f"{path}: {section}.{i}.spans.{j}: unknown kind {kind!r}")
            start = -1
            for _ in range(nth + 1):
                start = text.find(value, start + 1)
                if start < 0:
                    raise LabelledDataError(f"{path}: {section}.{i}.spans.{j}: {value!r} (#{nth}) not in {text!r}")
            gold.add((kind, start, start + len(value)))
        examples.append((text, gold))
    return examples


def evaluate(
    examples: Optional[Sequence[Tuple[str, Set[Span]]]] = None,
    extract: Optional[Callable[[str], List[Indicator]]] = None,
    with_errors: bool = True,
) -> Dict:
    """Per-kind precision/recall/F1 (+ micro average and, optionally, the errors)."""
    if examples is None:
        examples = load_examples()
    if extract is None:
        from bot.runtime.context import get_extractor

        extract = get_extractor()
    tp: Counter = Counter()
    fp: Counter = Counter()
    fn: Counter = Counter()
    errors = []
    for text, gold in examples:
        predicted = {(i.kind, i.start, i.end) for i in extract(text)}
        for span in predicted & gold:
            tp[span[0]] += 1
        for span in predicted - gold:
            fp[span[0]] += 1
        for span in gold - predicted:
            fn[span[0]] += 1
        if predicted != gold:
            errors.append({
                "text": text,
                "missed": [[k, text[s:e]] for k, s, e in sorted(gold - predicted, key=lambda x: x[1])],
                "spurious": [[k, text[s:e]] for k, s, e in sorted(predicted - gold, key=lambda x: x[1])],
            })

    def scores(t: int, p: int, n: int) -> Dict:
        precision = t / (t + p) if t + p else 1.0
        recall = t / (t + n) if t + n else 1.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        return {"precision": round(precision, 4), "recall": round(recall, 4), "f1": round(f1, 4),
                "support": t + n, "predicted": t + p}

    report = {
        "examples": len(examples),
        "spans": sum(len(g) for _, g in examples),
        "per_kind": {k: scores(tp[k], fp[k], fn[k]) for k in INDICATOR_KINDS},
        "micro": scores(sum(tp.values()), sum(fp.values()), sum(fn.values())),
    }
    report["all_kinds_at_least_0_95"] = all(
        v["precision"] >= 0.95 and v["recall"] >= 0.95 for v in report["per_kind"].values()
    )
    if with_errors:
        report["errors"] = errors
    return report


def evaluate_file(path: Path | str = DEFAULT_DATA, extract=None) -> Dict:
    """The labelled set (`examples`, what the patterns were tuned on), the held-out
    set (`heldout`) and both together."""
    main_set = load_examples(path, "examples")
    heldout = load_examples(path, "heldout")
    report = evaluate(main_set, extract)
    report["heldout"] = evaluate(heldout, extract) if heldout else None
    report["combined"] = evaluate([*main_set, *heldout], extract, with_errors=False)
    return report


def format_report(report: Dict, title: str = "labelled set") -> str:
    lines = [f"indicator spans, {title}: {report['examples']} examples, {report['spans']} labelled spans",
             f"{'kind':<14}{'precision':>10}{'recall':>8}{'f1':>8}{'support':>9}"]
    for kind, v in [*report["per_kind"].items(), ("micro", report["micro"])]:
        lines.append(f"{kind:<14}{v['precision']:>10.3f}{v['recall']:>8.3f}{v['f1']:>8.3f}{v['support']:>9}")
    return "\n".join(lines)


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(DEFAULT_DATA))
    parser.add_argument("--out", default=str(DEFAULT_REPORT))
    parser.add_argument("--show-errors", action="store_true", help="print every mismatch")
    args = parser.parse_args(argv)
    report = evaluate_file(args.data)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, ensure_ascii=False, indent=2), encoding="utf-8")
    print(format_report(report))
    if report["heldout"]:
        print(format_report(report["heldout"], "held-out set"))
    print(f"all kinds >= 0.95 on the labelled set: {report['all_kinds_at_least_0_95']}")
    if args.show_errors:
        for name, part in (("labelled", report), ("held-out", report["heldout"] or {"errors": []})):
            for err in part["errors"]:
                print(f"- [{name}] {err['text']}\n    missed {err['missed']}  spurious {err['spurious']}")
    print(f"written: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
