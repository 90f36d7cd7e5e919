"""Image files (PNG, JPEG, TIFF, WebP) read by OCR: one page per frame, so a multi-page TIFF
(a fax, a scanner's output) keeps its page numbers.

Pillow reads the header first: a frame over ``ingest.page_images.MAX_IMAGE_PIXELS`` is refused
before it is decoded, and one over the OCR pixel cap is scaled down. With ``SEMSEARCH_OCR=off``
an image is refused, saying so: there is no other way to read its text.
"""

from __future__ import annotations

import io
import warnings

from ingest.errors import DocumentParseError, describe_exception
from ingest.extracted import Extracted
from ingest.models import Section
from ingest.ocr import OcrError, OcrJob
from ingest.page_images import MAX_IMAGE_PIXELS, frame_for_ocr, image_pixels
from ingest.textnorm import clean_page_text, filename_stem

OCR_OFF_MESSAGE = "an image: its text can only be read by OCR, which is off (SEMSEARCH_OCR=off)"


def load_image(filename: str, data: bytes, ocr: OcrJob) -> Extracted:
    """Each frame's text by OCR; the title is the file's name (a photo's first OCR line is
    rarely one)."""
    if not ocr.enabled:
        raise DocumentParseError(filename, OCR_OFF_MESSAGE)
    from PIL import Image, UnidentifiedImageError

    with warnings.catch_warnings():
        # Pillow warns past 89 megapixels and refuses past twice that; the cap here is ours.
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            image = Image.open(io.BytesIO(data))
            frames = int(getattr(image, "n_frames", 1))
        except (UnidentifiedImageError, Image.DecompressionBombError) as error:
            raise DocumentParseError(filename, f"not a readable image: {error}") from error
        except Exception as error:
            raise DocumentParseError(
                filename, f"corrupt image: {describe_exception(error)}"
            ) from error
        ocr.start(frames)
        sections: list[Section] = []
        failures: list[str] = []
        for index in range(frames):
            number = index + 1
            try:
                image.seek(index)
                text = _read_frame(filename, image, number, ocr)
            except OcrError as error:
                failures.append(f"page {number}: OCR failed: {error}")
                continue
            if text:
                sections.append(Section(text=text, page=number, ocr=True))
    if not sections:
        raise DocumentParseError(
            filename, failures[0] if failures else "no text found by OCR in the image"
        )
    return Extracted(title=filename_stem(filename), pages=frames, sections=sections)


def _read_frame(filename: str, image: object, number: int, ocr: OcrJob) -> str:
    from PIL.Image import Image

    assert isinstance(image, Image)
    pixels = image_pixels(image)
    if pixels > MAX_IMAGE_PIXELS:
        raise DocumentParseError(
            filename,
            f"image too large: page {number} is {pixels / 1_000_000:,.0f} megapixels, over the"
            f" limit of {MAX_IMAGE_PIXELS // 1_000_000} megapixels",
        )
    try:
        frame = frame_for_ocr(image)
    except (MemoryError, DocumentParseError):
        raise
    except Exception as error:  # a truncated or corrupt frame
        ocr.skip()
        raise OcrError(f"not decoded: {describe_exception(error)}") from error
    return clean_page_text(ocr.read(frame))
