"""Scans made for the OCR tests: pages of printed text as PNG, TIFF, JPEG and image-only or
mixed PDFs, drawn with Pillow's own font so that they look the same on every machine."""

from __future__ import annotations

import io

from PIL import Image, ImageDraw, ImageFont
from pypdf import PdfReader, PdfWriter

from tests.hostile_inputs import build_pdf, flate

OTTERS = "Sea otters hold hands while they sleep"
OWLS = "Barn owls hunt at night over open fields"
BEES = "Honey bees dance to show where flowers grow"


def page_image(
    lines: list[str], *, size: tuple[int, int] = (1275, 1650), font_px: int = 36
) -> Image.Image:
    """A white page with ``lines`` printed in black, as a 150 DPI scan of a letter page."""
    image = Image.new("L", size, 255)
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=font_px)
    y = size[1] // 10
    for line in lines:
        draw.text((size[0] // 10, y), line, fill=0, font=font)
        y += int(font_px * 1.8)
    return image


def image_bytes(image: Image.Image, format: str, **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=format, **options)
    return buffer.getvalue()


def tiff_pages(*pages: Image.Image) -> bytes:
    """A multi-page TIFF, as a scanner or a fax writes one."""
    first, *rest = pages
    return image_bytes(first, "TIFF", save_all=True, append_images=rest, compression="tiff_lzw")


def image_pdf(image: Image.Image, *, dpi: float = 150) -> bytes:
    """A one-page PDF that is only this image, at ``dpi`` (its page size follows)."""
    return image_bytes(image.convert("RGB"), "PDF", resolution=dpi)


def text_pdf(text: str) -> bytes:
    """A one-page letter PDF with ``text`` in its text layer."""
    content = b"BT /F1 14 Tf 72 720 Td (" + text.encode() + b") Tj ET"
    return build_pdf(
        [
            b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R"
            b" /Resources << /Font << /F1 5 0 R >> >> >>",
            flate(content),
            b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        ]
    )


def joined_pdfs(*pdfs: bytes) -> bytes:
    """The pages of these PDFs, in order, as one PDF."""
    writer = PdfWriter()
    for data in pdfs:
        writer.append(PdfReader(io.BytesIO(data)))
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()
