# The semsearch app. `docker compose up` runs it beside a Qdrant server and a
# text-embeddings-inference server (see docker-compose.yml).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app

# The CPU build of torch, pinned as in pyproject.toml (a plain install pulls a CUDA build).
RUN pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu

# OCR runs on RapidOCR, from PyPI. SEMSEARCH_OCR_ENGINE=tesseract needs Debian's Tesseract:
# build with --build-arg TESSERACT="tesseract-ocr tesseract-ocr-deu" (a package per language).
ARG TESSERACT=""
RUN if [ -n "$TESSERACT" ]; then \
        apt-get update && apt-get install -y --no-install-recommends $TESSERACT \
        && rm -rf /var/lib/apt/lists/*; \
    fi

COPY pyproject.toml README.md ./
COPY inference ./inference
COPY embeddings ./embeddings
COPY generation ./generation
COPY ingest ./ingest
COPY search ./search
COPY web ./web
RUN pip install .

ENV SEMSEARCH_DATA_DIR=/data
VOLUME ["/data"]
EXPOSE 8000
CMD ["semsearch", "serve", "--host", "0.0.0.0", "--port", "8000"]
