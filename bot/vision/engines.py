"""OCR engines behind one small interface: a picture in, text lines with their boxes out.

`RapidOcrEngine` is the one the gateway runs: PaddleOCR's PP-OCRv4 models through ONNX
Runtime, shipped inside the `rapidocr-onnxruntime` wheel (nothing is downloaded, ever).
It won the comparison with Debian's Tesseract (`TesseractEngine`, kept for
`python -m bot.quality.screenshots --compare`) on the generated screenshots: see docs/ocr.md.
"""
from __future__ import annotations

import re
import subprocess
import threading
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, List, Optional, Protocol, Sequence, Tuple

import numpy as np
from PIL import Image


@dataclass(frozen=True)
class TextLine:
    text: str
    x0: float
    y0: float
    x1: float
    y1: float
    score: float = 1.0

    @property
    def height(self) -> float:
        return self.y1 - self.y0

    @property
    def cx(self) -> float:
        return (self.x0 + self.x1) / 2

    @property
    def cy(self) -> float:
        return (self.y0 + self.y1) / 2


Box = Tuple[float, float, float, float]


class OcrEngine(Protocol):
    name: str

    def lines(self, image: Image.Image) -> List[TextLine]:
        """The text lines found in an RGB picture, in pixel coordinates of that picture."""
        ...


# Detection runs on the picture scaled to this longest side: a phone screenshot's message
# text stays ~20 px high, plenty for the detector, at a fifth of the full-size cost.
# Recognition then reads each line from the full-size picture.
DET_MAX_SIDE = 1024


class RapidOcrEngine:
    """RapidOCR (PP-OCRv4 det + rec in ONNX Runtime). Loaded once, on first use.

    Two steps, so a caller can drop boxes (the app's chrome) before the costlier reading."""

    name = "rapidocr"

    def __init__(self, threads: int = 2, det_max_side: int = DET_MAX_SIDE) -> None:
        self._threads = threads
        self._det_max_side = det_max_side
        self._ocr: Optional[Any] = None
        self._lock = threading.Lock()

    def _engine(self) -> Any:
        with self._lock:
            if self._ocr is None:
                from rapidocr_onnxruntime import RapidOCR  # imports onnxruntime: ~1 s, only when needed

                # limit_type min / 32: never upscales what detect() already sized.
                self._ocr = RapidOCR(intra_op_num_threads=self._threads, inter_op_num_threads=1, use_cls=False,
                                     det_limit_type="min", det_limit_side_len=32)
            return self._ocr

    def warm_up(self) -> None:
        self.lines(Image.new("RGB", (200, 64), (255, 255, 255)))

    def detect(self, image: Image.Image) -> List[Box]:
        """Text boxes (x0, y0, x1, y1) in the picture's pixels, top to bottom."""
        scale = min(1.0, self._det_max_side / max(image.size))
        small = image if scale == 1.0 else image.resize(
            (max(1, round(image.width * scale)), max(1, round(image.height * scale))), Image.Resampling.BILINEAR)
        boxes, _elapsed = self._engine().text_det(_bgr(small))
        if boxes is None or len(boxes) == 0:
            return []
        out = [(float(b[:, 0].min()) / scale, float(b[:, 1].min()) / scale,
                float(b[:, 0].max()) / scale, float(b[:, 1].max()) / scale) for b in boxes]
        return sorted(out, key=lambda b: (b[1], b[0]))

    def recognize(self, image: Image.Image, boxes: Sequence[Box]) -> List[TextLine]:
        if not boxes:
            return []
        bgr = _bgr(image)
        crops = [bgr[max(0, int(y0)):int(y1) + 1, max(0, int(x0)):int(x1) + 1] for x0, y0, x1, y1 in boxes]
        results, _elapsed = self._engine().text_rec(crops)
        return [TextLine(str(text), *box, score=float(score))
                for box, (text, score) in zip(boxes, results) if str(text).strip()]

    def lines(self, image: Image.Image) -> List[TextLine]:
        return self.recognize(image, self.detect(image))


@lru_cache(maxsize=1)
def shared_engine() -> RapidOcrEngine:
    """The process's one RapidOCR: the models are loaded once (~200 MB) however many apps are built."""
    return RapidOcrEngine()


def _bgr(image: Image.Image) -> np.ndarray:
    return np.ascontiguousarray(np.asarray(image.convert("RGB"))[:, :, ::-1])


_CJK_GAP = re.compile(r"(?<=[\u3000-\u9fff\uff00-\uffef])\s+(?=[\u3000-\u9fff\uff00-\uffef])")


class TesseractEngine:
    """Debian's tesseract-ocr with chi_sim, through its command line (TSV output, one line a row)."""

    name = "tesseract"

    def __init__(self, languages: str = "chi_sim+eng", binary: str = "tesseract") -> None:
        self._languages = languages
        self._binary = binary

    def lines(self, image: Image.Image) -> List[TextLine]:
        import io

        buf = io.BytesIO()
        image.save(buf, format="PNG")
        tsv = subprocess.run(
            [self._binary, "stdin", "stdout", "-l", self._languages, "--psm", "11", "tsv"],
            input=buf.getvalue(), capture_output=True, check=True, timeout=60,
        ).stdout.decode("utf-8", "replace")
        words: dict = {}
        for row in tsv.splitlines()[1:]:
            cols = row.split("\t")
            if len(cols) < 12 or cols[0] != "5" or not cols[11].strip():
                continue
            key = (cols[2], cols[3], cols[4])  # block, paragraph, line
            left, top, w, h, conf = int(cols[6]), int(cols[7]), int(cols[8]), int(cols[9]), float(cols[10])
            words.setdefault(key, []).append((left, top, left + w, top + h, conf, cols[11]))
        out = []
        for parts in words.values():
            text = _CJK_GAP.sub("", " ".join(p[5] for p in parts))
            out.append(TextLine(text, min(p[0] for p in parts), min(p[1] for p in parts),
                                max(p[2] for p in parts), max(p[3] for p in parts),
                                sum(p[4] for p in parts) / len(parts) / 100))
        return out
