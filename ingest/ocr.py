"""OCR: the text of a page that is only a picture (a scan, a photographed page, an image file).

``OcrSettings`` say when pages are read this way (``SEMSEARCH_OCR``), by which engine and in
which languages; ``OcrEngine`` is what each engine does (``ingest.ocr_engines``): a page's
image in, its text out, lines in reading order and paragraphs split by blank lines.

Engines are costly to start (RapidOCR loads two ONNX models, about 0.5 s and 100 MB), so each
reader process builds one when its first scan comes and keeps it (``engine_for``); a server
that never sees a scan never loads one. OCR runs only in the reader processes
(``ingest.isolation``), under their time and memory limits.

``OcrJob`` is one file's OCR: its engine, the pages-per-file cap and the progress callback that
makes a job show "OCR page N/M".
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, Protocol

from ingest.errors import DocumentParseError
from ingest.models import PageProgress

if TYPE_CHECKING:
    from PIL.Image import Image

OcrMode = Literal["auto", "force", "off"]
OcrEngineName = Literal["rapidocr", "tesseract"]
OCR_MODES: tuple[OcrMode, ...] = ("auto", "force", "off")
OCR_ENGINES: tuple[OcrEngineName, ...] = ("rapidocr", "tesseract")
#: The progress stage a job shows while pages are read: "OCR page 3/12".
OCR_STAGE = "OCR page"
DEFAULT_MAX_PAGES = 100
#: A page OCR reads at most this many pixels (its resolution is lowered to fit): 25 MP is a
#: 17 x 22 inch page at 200 DPI, so only a poster or an 80-megapixel photo is scaled down.
MAX_PAGE_PIXELS = 25_000_000


class OcrEngine(Protocol):
    """Reads the text of one page's image."""

    #: The resolution it reads best at: a PDF page is rendered at this many dots per inch.
    dpi: int

    def read(self, image: Image) -> str:
        """The page's text: lines in reading order, paragraphs apart by a blank line.
        Raises ``OcrError`` for a page it could not read."""
        ...


class OcrError(Exception):
    """One page could not be read; the reason is shown with its page number."""


class OcrUnavailableError(Exception):
    """The configured engine cannot run here (no ``tesseract`` program, a language not
    installed): a setting's fault, said with what to install or change."""


@dataclass(frozen=True)
class OcrSettings:
    """``mode``: ``auto`` reads the pages with no usable text layer, ``force`` every page,
    ``off`` none. ``languages``: Tesseract's, ``+``-joined (``eng+deu``); RapidOCR's bundled
    model reads Chinese, English and Latin-script languages and takes none.
    ``max_pages``: a file needing more pages read is refused, before any is read."""

    mode: OcrMode = "auto"
    engine: OcrEngineName = "rapidocr"
    languages: str = "eng"
    max_pages: int = DEFAULT_MAX_PAGES

    def __post_init__(self) -> None:
        if self.mode not in OCR_MODES:
            raise ValueError(f"SEMSEARCH_OCR must be one of {', '.join(OCR_MODES)}")
        if self.engine not in OCR_ENGINES:
            raise ValueError(f"SEMSEARCH_OCR_ENGINE must be one of {', '.join(OCR_ENGINES)}")
        if self.max_pages < 1:
            raise ValueError("SEMSEARCH_OCR_MAX_PAGES must be at least 1")


def _build(settings: OcrSettings) -> OcrEngine:
    from ingest.ocr_engines import RapidOcrEngine, TesseractEngine

    if settings.engine == "tesseract":
        return TesseractEngine(settings.languages)
    return RapidOcrEngine()


# One engine per process, for the settings it last ran with (a reader's are fixed).
engine_for: Callable[[OcrSettings], OcrEngine] = functools.lru_cache(maxsize=1)(_build)


def check_engine(settings: OcrSettings) -> None:
    """Raise ``OcrUnavailableError`` now when the configured engine cannot run, so that a server
    says so at start rather than on each scan. Cheap: builds nothing for RapidOCR."""
    if settings.mode == "off":
        return
    if settings.engine == "tesseract":
        from ingest.ocr_engines import tesseract_languages

        tesseract_languages(settings.languages)
    else:
        from ingest.ocr_engines import rapidocr_available

        rapidocr_available()


@dataclass
class OcrJob:
    """One file's OCR: the pages to read are counted first (``start``), then read one by one
    (``read``), each reported to ``progress``."""

    filename: str
    settings: OcrSettings
    progress: PageProgress | None = None
    total: int = 0
    done: int = 0

    @property
    def enabled(self) -> bool:
        return self.settings.mode != "off"

    def start(self, pages: int) -> None:
        """Refuse the file when it needs more pages read than ``max_pages``, before any."""
        if pages > self.settings.max_pages:
            raise DocumentParseError(
                self.filename,
                f"needs OCR on {pages:,} pages, over the limit of {self.settings.max_pages:,}"
                " pages per file (SEMSEARCH_OCR_MAX_PAGES)",
            )
        self.total, self.done = pages, 0
        if pages and self.progress is not None:
            self.progress(0, pages)

    def engine(self) -> OcrEngine:
        """The process's engine, built on first use; raises ``DocumentParseError`` naming the
        file when it cannot run here."""
        try:
            return engine_for(self.settings)
        except OcrUnavailableError as error:
            raise DocumentParseError(self.filename, f"cannot OCR it here: {error}") from error

    def read(self, image: Image) -> str:
        """One page's text, counted as done; raises ``OcrError`` when it could not be read."""
        try:
            return self.engine().read(image)
        finally:
            self._advance()

    def skip(self) -> None:
        """A page given up before it was read (it could not be rendered): counted as done."""
        self._advance()

    def _advance(self) -> None:
        self.done += 1
        if self.progress is not None:
            self.progress(self.done, max(self.total, self.done))
