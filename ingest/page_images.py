"""Pages as images for OCR, never larger than ``ingest.ocr.MAX_PAGE_PIXELS``.

A PDF page is rendered by PDFium (pypdfium2, Chrome's PDF engine) at the engine's resolution,
lowered when the page is so large that it would pass the cap: a 200 x 200 inch page at 150 DPI
would be 900 megapixels, and ``render`` allocates them all at once. An image file's frame is
scaled down the same way after decoding; a JPEG is decoded at a reduced scale to begin with.
An image larger than ``MAX_IMAGE_PIXELS`` is refused before it is decoded (its size is in its
header), so that no file can make a reader decode gigabytes.

Everything is grey (one byte a pixel): both engines read grey as well as colour.
PDFium is not thread-safe; ``PDFIUM_LOCK`` serialises its use in one process (the readers are
one file at a time, but an in-process read, as in tests and previews, may be on several
threads).
"""

from __future__ import annotations

import math
import threading
from typing import TYPE_CHECKING, Any

from ingest.ocr import MAX_PAGE_PIXELS

if TYPE_CHECKING:
    from PIL.Image import Image

#: Larger images are refused: decoding one in colour holds 3 bytes a pixel.
MAX_IMAGE_PIXELS = 100_000_000
PDFIUM_LOCK = threading.RLock()


def render_pdf_page(page: Any, dpi: int, max_pixels: int = MAX_PAGE_PIXELS) -> Image:
    """A pypdfium2 page in grey at ``dpi``, or at the resolution that fits ``max_pixels``."""
    width, height = page.get_size()  # points, 1/72 inch
    area = max(1.0, float(width) * float(height))
    scale = min(dpi / 72, math.sqrt(max_pixels / area))
    bitmap = page.render(scale=scale, grayscale=True)
    try:
        return bitmap.to_pil().copy()  # the bitmap's buffer is freed on close
    finally:
        bitmap.close()


def image_pixels(image: Image) -> int:
    width, height = image.size
    return int(width) * int(height)


def frame_for_ocr(image: Image, max_pixels: int = MAX_PAGE_PIXELS) -> Image:
    """The image's current frame in grey, upright by its EXIF orientation, scaled down to
    ``max_pixels``. Call only for a frame within ``MAX_IMAGE_PIXELS``."""
    from PIL import Image as PILImage
    from PIL import ImageOps

    pixels = image_pixels(image)
    if image.format == "JPEG" and pixels > max_pixels:
        # Decoded at 1/2, 1/4 or 1/8 scale, still at least as large as asked.
        shrink = math.sqrt(max_pixels / pixels)
        image.draft("L", (int(image.width * shrink), int(image.height * shrink)))
    frame = ImageOps.exif_transpose(image.convert("L"))
    if image_pixels(frame) > max_pixels:
        shrink = math.sqrt(max_pixels / image_pixels(frame))
        size = (max(1, int(frame.width * shrink)), max(1, int(frame.height * shrink)))
        frame = frame.resize(size, PILImage.Resampling.LANCZOS)
    return frame
