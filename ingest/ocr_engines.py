"""The two OCR engines: RapidOCR (the default, inside its wheel) and Tesseract (if installed).

Measured on the six pages of ``tracemonkey-scan.pdf`` against the original's text layer
(``bench/ocr.py``, ``docs/benchmarks.md``): RapidOCR reads more of the words, figure labels
included, and needs nothing but PyPI; Tesseract is about three times as fast, uses a tenth of
the memory and reads 100+ languages, but skips most text inside figures and needs Debian's
``tesseract-ocr`` (and a ``tesseract-ocr-<lang>`` package per language).

Both run on one thread: a reader process reads one file at a time, and there is one reader per
file read at once, so more threads would only fight over the same cores.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
from typing import TYPE_CHECKING, Any

from ingest.errors import describe_exception
from ingest.ocr import OcrError, OcrUnavailableError
from ingest.reading_order import OcrLine, page_text

if TYPE_CHECKING:
    from PIL.Image import Image

# RapidOCR shrinks any image whose long side is over 2,000 px before it reads it; done here
# first, on the grey image, it spares the copies it makes in colour and in floats.
RAPIDOCR_MAX_SIDE = 2000
# A page that takes Tesseract this long is given up (a 200 DPI letter page takes 2-4 s).
TESSERACT_PAGE_TIMEOUT_S = 120
_LANGUAGE = re.compile(r"^[A-Za-z0-9_]+$")


def rapidocr_available() -> None:
    """Raise ``OcrUnavailableError`` when RapidOCR or its runtime is not installed."""
    for module in ("rapidocr", "onnxruntime"):
        if importlib.util.find_spec(module) is None:
            raise OcrUnavailableError(f"the {module} package is not installed")


class RapidOcrEngine:
    """RapidOCR 3 with the PP-OCRv6 small models its wheel carries (Chinese, English and
    Latin-script languages in one model), on ONNX Runtime. Any other model would be fetched
    from the network on first use, so none is asked for."""

    #: Pages are stored at 150-300 DPI; RapidOCR reads 150 DPI as well as 200 or 300
    #: (0.992-0.994 word recall on the scan) and fastest.
    dpi = 150

    def __init__(self) -> None:
        rapidocr_available()
        import cv2
        from rapidocr import RapidOCR

        cv2.setNumThreads(1)
        self._ocr = RapidOCR(
            params={
                "Global.log_level": "error",
                "EngineConfig.onnxruntime.intra_op_num_threads": 1,
                "EngineConfig.onnxruntime.inter_op_num_threads": 1,
            }
        )

    def read(self, image: Image) -> str:
        import numpy as np

        image = _fit(image.convert("L"), RAPIDOCR_MAX_SIDE)
        try:
            result: Any = self._ocr(np.asarray(image.convert("RGB")))
        except MemoryError:
            raise
        except Exception as error:
            if "bad_alloc" in str(error):  # ONNX Runtime's word for no memory left
                raise MemoryError(str(error)) from error
            raise OcrError(describe_exception(error)) from error
        texts = result.txts
        if texts is None or len(texts) == 0:
            return ""
        lines = []
        for text, box in zip(texts, result.boxes, strict=True):
            xs = [float(point[0]) for point in box]
            ys = [float(point[1]) for point in box]
            lines.append(OcrLine(str(text), min(xs), min(ys), max(xs), max(ys)))
        return page_text(lines)


def tesseract_languages(languages: str) -> str:
    """``languages`` checked against what Tesseract has installed, as its ``-l`` argument;
    raises ``OcrUnavailableError`` saying what to install."""
    if shutil.which("tesseract") is None:
        raise OcrUnavailableError(
            "SEMSEARCH_OCR_ENGINE=tesseract, but the tesseract program is not installed"
            " (Debian: apt-get install tesseract-ocr)"
        )
    import pytesseract

    wanted = [name.strip() for name in languages.split("+") if name.strip()] or ["eng"]
    bad = [name for name in wanted if not _LANGUAGE.match(name)]
    if bad:
        raise OcrUnavailableError(
            f"SEMSEARCH_OCR_LANGUAGES: {bad[0]!r} is not a Tesseract language code (eng, deu…)"
        )
    try:
        installed = set(pytesseract.get_languages(config=""))
    except Exception as error:
        raise OcrUnavailableError(
            f"tesseract did not list its languages: {describe_exception(error)}"
        ) from error
    missing = [name for name in wanted if name not in installed]
    if missing:
        raise OcrUnavailableError(
            f"Tesseract has no language data for {', '.join(missing)} (installed:"
            f" {', '.join(sorted(installed)) or 'none'}; Debian: apt-get install"
            f" tesseract-ocr-{missing[0]}); set SEMSEARCH_OCR_LANGUAGES"
        )
    return "+".join(wanted)


class TesseractEngine:
    """Debian's Tesseract 5 through pytesseract: one ``tesseract`` process per page, with its
    own layout analysis (columns and paragraphs come out in order)."""

    #: Tesseract wants about 300 DPI; on the scan, 150 → 200 DPI gains 1.2 points of word
    #: recall and 300 nothing more, for half again the time.
    dpi = 200

    def __init__(self, languages: str) -> None:
        self._languages = tesseract_languages(languages)
        os.environ.setdefault("OMP_THREAD_LIMIT", "1")  # read by the tesseract child

    def read(self, image: Image) -> str:
        import pytesseract

        try:
            text = pytesseract.image_to_string(
                image.convert("L"),
                lang=self._languages,
                config=f"--psm 3 --dpi {self.dpi}",
                timeout=TESSERACT_PAGE_TIMEOUT_S,
            )
        except RuntimeError as error:  # pytesseract's word for its timeout
            raise OcrError(f"tesseract took over {TESSERACT_PAGE_TIMEOUT_S} s") from error
        except Exception as error:  # TesseractError: its exit status and stderr
            raise OcrError(describe_exception(error)) from error
        return str(text)


def _fit(image: Image, max_side: int) -> Image:
    """The image shrunk so that its long side is at most ``max_side`` pixels."""
    side = max(image.size)
    if side <= max_side:
        return image
    from PIL import Image as PILImage

    scale = max_side / side
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    return image.resize(size, PILImage.Resampling.LANCZOS)
