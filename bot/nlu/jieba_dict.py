"""Generate jieba's user dictionary from the knowledge base's terms.

`python -m bot.nlu.jieba_dict build/jieba` writes build/jieba/userdict.txt; config.yml's
JiebaTokenizer reads that directory, so new KB terms reach the tokenizer on retraining.
"""
from __future__ import annotations

import sys
from pathlib import Path

from bot.kb import load_kb

# High enough that jieba keeps a KB term whole instead of splitting it.
TERM_FREQUENCY = 2000


def write_user_dictionary(out_dir: Path) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "userdict.txt"
    terms = load_kb().vocabulary()
    path.write_text("".join(f"{t} {TERM_FREQUENCY} n\n" for t in terms), encoding="utf-8")
    return path


if __name__ == "__main__":
    target = Path(sys.argv[1] if len(sys.argv) > 1 else "build/jieba")
    written = write_user_dictionary(target)
    print(f"jieba user dictionary: {written} ({len(written.read_text().splitlines())} terms)")
