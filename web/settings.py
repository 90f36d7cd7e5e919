"""Application settings, read from the environment or a `.env` file and passed in explicitly.

Nothing imports a global settings object: `create_app(settings)` and each CLI command build the
services from the `Settings` they are handed, so tests can run several apps side by side.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from embeddings.rerank import DEFAULT_TOP_N, RerankSettings
from embeddings.settings import DEFAULT_MODEL, EmbeddingSettings
from generation.settings import GenerationSettings
from inference.hf import DEFAULT_ENDPOINTS_API_URL, DEFAULT_HUB_URL, DEFAULT_ROUTER_URL
from ingest.chunking import ChunkingSettings
from ingest.isolation import DEFAULT_MEMORY_MB
from ingest.ocr import DEFAULT_MAX_PAGES, OcrEngineName, OcrMode, OcrSettings
from search.server_replication import ReadConsistency, Replication, WriteOrdering
from web.guard import MULTIPART_ALLOWANCE_BYTES


class Settings(BaseSettings):
    """Every setting is an environment variable (the alias); field names are for Python callers."""

    model_config = SettingsConfigDict(
        env_file=".env", extra="ignore", populate_by_name=True, frozen=True
    )

    data_dir: Path = Field(Path("./data"), alias="SEMSEARCH_DATA_DIR")
    collection: str = Field("documents", alias="SEMSEARCH_COLLECTION")
    qdrant_url: str = Field("", alias="QDRANT_URL")
    qdrant_api_key: SecretStr = Field(SecretStr(""), alias="QDRANT_API_KEY")
    # A Qdrant cluster (search.server_replication, docs/scaling.md): the first three apply when
    # the app creates the collection; blank leaves them to the server.
    qdrant_shard_number: int | None = Field(None, alias="QDRANT_SHARD_NUMBER", ge=1)
    qdrant_replication_factor: int | None = Field(None, alias="QDRANT_REPLICATION_FACTOR", ge=1)
    qdrant_write_consistency_factor: int | None = Field(
        None, alias="QDRANT_WRITE_CONSISTENCY_FACTOR", ge=1
    )
    qdrant_read_consistency: ReadConsistency = Field("quorum", alias="QDRANT_READ_CONSISTENCY")
    qdrant_write_ordering: WriteOrdering = Field("medium", alias="QDRANT_WRITE_ORDERING")
    # Ingestion in `semsearch worker` processes over a Redis queue (ingest.job_broker), for
    # replicas sharing a Qdrant server; blank: this process ingests its own uploads.
    redis_url: SecretStr = Field(SecretStr(""), alias="SEMSEARCH_REDIS_URL")
    # How long a worker may go silent before its files are given to another.
    worker_heartbeat_s: float = Field(60.0, alias="SEMSEARCH_WORKER_HEARTBEAT_S", gt=0)
    # Accepted uploads and stored originals; blank: under SEMSEARCH_DATA_DIR. Replicas and
    # workers point both at the same shared volume.
    incoming_dir: Path | None = Field(None, alias="SEMSEARCH_INCOMING_DIR")
    originals_dir: Path | None = Field(None, alias="SEMSEARCH_FILES_DIR")
    api_key: SecretStr = Field(SecretStr(""), alias="SEMSEARCH_API_KEY")
    # Host names the app answers for, comma-separated ("*": any). Blank: `semsearch serve` uses
    # the localhost names and the address it binds (web.same_origin); an app built otherwise
    # (tests) checks no Host.
    allowed_hosts: str = Field("", alias="SEMSEARCH_ALLOWED_HOSTS")
    max_upload_mb: int = Field(50, alias="SEMSEARCH_MAX_UPLOAD_MB", ge=1)
    # The whole body of one upload request (all its files), checked while it streams in.
    max_request_mb: int = Field(200, alias="SEMSEARCH_MAX_REQUEST_MB", ge=1)
    ingest_workers: int = Field(1, alias="SEMSEARCH_INGEST_WORKERS", ge=1)
    # Each file is read in a worker process under these limits (ingest.isolation).
    read_timeout_s: float = Field(120.0, alias="SEMSEARCH_READ_TIMEOUT_S", gt=0)
    read_memory_mb: int = Field(DEFAULT_MEMORY_MB, alias="SEMSEARCH_READ_MEMORY_MB", ge=64)
    # OCR of scanned pages and images (ingest.ocr): auto, force or off; rapidocr or tesseract.
    ocr_mode: OcrMode = Field("auto", alias="SEMSEARCH_OCR")
    ocr_engine: OcrEngineName = Field("rapidocr", alias="SEMSEARCH_OCR_ENGINE")
    ocr_languages: str = Field("eng", alias="SEMSEARCH_OCR_LANGUAGES")
    ocr_max_pages: int = Field(DEFAULT_MAX_PAGES, alias="SEMSEARCH_OCR_MAX_PAGES", ge=1)
    # Uploads waiting for ingestion (on disk, in the spool); past either bound a 503.
    max_queued_files: int = Field(5000, alias="SEMSEARCH_MAX_QUEUED_FILES", ge=1)
    max_queued_mb: int = Field(2048, alias="SEMSEARCH_MAX_QUEUED_MB", ge=1)
    chunk_tokens: int = Field(200, alias="SEMSEARCH_CHUNK_TOKENS")
    chunk_overlap: int = Field(30, alias="SEMSEARCH_CHUNK_OVERLAP")

    hf_token: SecretStr = Field(SecretStr(""), alias="HF_TOKEN")
    embeddings_provider: str = Field("", alias="EMBEDDINGS_PROVIDER")
    embeddings_model: str = Field(DEFAULT_MODEL, alias="EMBEDDINGS_MODEL")
    embeddings_endpoint: str = Field("", alias="EMBEDDINGS_ENDPOINT")
    # auto (blank), hf-inference, or an Inference Provider's name (embeddings.hf_providers).
    embeddings_hf_provider: str = Field("", alias="EMBEDDINGS_HF_PROVIDER")
    # huggingface_hub's own setting for the Hub's address, asked which providers serve a model.
    hf_endpoint: str = Field(DEFAULT_HUB_URL, alias="HF_ENDPOINT")
    # Blank: {HF_ROUTER_URL}/hf-inference.
    hf_inference_base_url: str = Field("", alias="HF_INFERENCE_BASE_URL")
    # The endpoint's user or organisation: checks compare it with their Inference Endpoints.
    embeddings_endpoint_namespace: str = Field("", alias="EMBEDDINGS_ENDPOINT_NAMESPACE")
    hf_endpoints_api_url: str = Field(DEFAULT_ENDPOINTS_API_URL, alias="HF_ENDPOINTS_API_URL")
    embeddings_batch_size: int = Field(32, alias="EMBEDDINGS_BATCH_SIZE", ge=1)
    # Blank: by model id (embeddings.prompts); "none": no prompt; else used as given.
    embeddings_query_prompt: str = Field("", alias="EMBEDDINGS_QUERY_PROMPT")
    embeddings_document_prompt: str = Field("", alias="EMBEDDINGS_DOCUMENT_PROMPT")
    # torch (default) or onnx-int8: how the local provider runs the bundled model.
    embeddings_local_backend: str = Field("torch", alias="EMBEDDINGS_LOCAL_BACKEND")
    embeddings_local_query_backend: str = Field("onnx", alias="EMBEDDINGS_LOCAL_QUERY_BACKEND")
    # on/off (also true/false, 1/0): the vector cache in SEMSEARCH_DATA_DIR.
    embeddings_cache: bool = Field(True, alias="EMBEDDINGS_CACHE")

    # The reranker (a cross-encoder over the first passages of each search; embeddings.rerank).
    rerank_provider: str = Field("", alias="RERANK_PROVIDER")
    rerank_model: str = Field("", alias="RERANK_MODEL")
    rerank_endpoint: str = Field("", alias="RERANK_ENDPOINT")
    # Overrides HF_TOKEN for the reranker (a Cohere or Jina key, a separate endpoint's token).
    rerank_token: SecretStr = Field(SecretStr(""), alias="RERANK_TOKEN")
    rerank_top_n: int = Field(DEFAULT_TOP_N, alias="RERANK_TOP_N", ge=1, le=200)
    rerank_timeout_s: float = Field(10.0, alias="RERANK_TIMEOUT_S", gt=0)

    # The text-generation node (answers with citations); generation.settings has the rules.
    generation_provider: str = Field("", alias="GENERATION_PROVIDER")
    generation_model: str = Field("", alias="GENERATION_MODEL")
    generation_endpoint: str = Field("", alias="GENERATION_ENDPOINT")
    # Overrides HF_TOKEN for the text-generation node (a separate endpoint's credential).
    generation_token: SecretStr = Field(SecretStr(""), alias="GENERATION_TOKEN")
    hf_router_url: str = Field(DEFAULT_ROUTER_URL, alias="HF_ROUTER_URL")
    generation_max_tokens: int = Field(512, alias="GENERATION_MAX_TOKENS", ge=1, le=32768)
    generation_temperature: float = Field(0.2, alias="GENERATION_TEMPERATURE", ge=0, le=2)
    generation_context_tokens: int = Field(3000, alias="GENERATION_CONTEXT_TOKENS", ge=100)
    # Seconds: to connect; of silence between two pieces; to the first token (retries
    # included); for a whole answer.
    generation_connect_timeout_s: float = Field(10.0, alias="GENERATION_CONNECT_TIMEOUT_S", gt=0)
    generation_read_timeout_s: float = Field(60.0, alias="GENERATION_READ_TIMEOUT_S", gt=0)
    generation_first_token_timeout_s: float = Field(
        120.0, alias="GENERATION_FIRST_TOKEN_TIMEOUT_S", gt=0
    )
    generation_total_timeout_s: float = Field(300.0, alias="GENERATION_TOTAL_TIMEOUT_S", gt=0)

    @model_validator(mode="after")
    def _acknowledgements_within_replicas(self) -> Settings:
        factor, acks = self.qdrant_replication_factor, self.qdrant_write_consistency_factor
        if factor is not None and acks is not None and acks > factor:
            raise ValueError(
                f"QDRANT_WRITE_CONSISTENCY_FACTOR={acks} is more than "
                f"QDRANT_REPLICATION_FACTOR={factor}: no write could be acknowledged by {acks} "
                f"replicas of {factor}"
            )
        if self.redis_url.get_secret_value() and not self.qdrant_url:
            raise ValueError(
                "SEMSEARCH_REDIS_URL is set but QDRANT_URL is not: workers and replicas must "
                "share a Qdrant server (the embedded store belongs to one process). Set "
                "QDRANT_URL, or unset SEMSEARCH_REDIS_URL to ingest in this process."
            )
        return self

    def replication(self) -> Replication:
        return Replication(
            shard_number=self.qdrant_shard_number,
            replication_factor=self.qdrant_replication_factor,
            write_consistency_factor=self.qdrant_write_consistency_factor,
            read_consistency=self.qdrant_read_consistency,
            write_ordering=self.qdrant_write_ordering,
        )

    @property
    def allowed_host_names(self) -> list[str]:
        return [name.strip() for name in self.allowed_hosts.split(",") if name.strip()]

    @property
    def max_upload_bytes(self) -> int:
        return self.max_upload_mb * 1024 * 1024

    @property
    def max_queued_bytes(self) -> int:
        return self.max_queued_mb * 1024 * 1024

    @property
    def max_request_bytes(self) -> int:
        """The largest upload request body: never below one file of the largest size, plus
        room for the multipart framing and text fields (``web.guard``)."""
        files = max(self.max_request_mb, self.max_upload_mb) * 1024 * 1024
        return files + MULTIPART_ALLOWANCE_BYTES

    @property
    def embeddings_cache_path(self) -> Path:
        """The vector cache (``embeddings.cache``), next to the store so it moves with it."""
        return self.data_dir / "embeddings-cache.sqlite"

    @property
    def files_dir(self) -> Path:
        """Where uploaded originals are kept, named by their sha256."""
        return self.originals_dir or self.data_dir / "files"

    @property
    def spool_dir(self) -> Path:
        """Accepted uploads not yet ingested (``ingest.spool``), resumed after a restart."""
        return self.incoming_dir or self.data_dir / "incoming"

    def ocr(self) -> OcrSettings:
        return OcrSettings(
            mode=self.ocr_mode,
            engine=self.ocr_engine,
            languages=self.ocr_languages,
            max_pages=self.ocr_max_pages,
        )

    def embeddings(self) -> EmbeddingSettings:
        return EmbeddingSettings(
            provider=self.embeddings_provider,
            # A blank model is allowed for an endpoint (as in the Flowise node).
            model=self.embeddings_model.strip(),
            endpoint=self.embeddings_endpoint.strip(),
            token=self.hf_token,
            hf_provider=self.embeddings_hf_provider,
            hub_url=self.hf_endpoint.strip().rstrip("/"),
            router_url=self.hf_router_url.strip().rstrip("/"),
            hf_inference_base_url=self.hf_inference_base_url.strip().rstrip("/"),
            endpoint_namespace=self.embeddings_endpoint_namespace.strip(),
            endpoints_api_url=self.hf_endpoints_api_url.strip().rstrip("/"),
            batch_size=self.embeddings_batch_size,
            # Not stripped: a prompt's trailing space is part of it.
            query_prompt=self.embeddings_query_prompt,
            document_prompt=self.embeddings_document_prompt,
            local_backend=self.embeddings_local_backend.strip().lower(),
            local_query_backend=self.embeddings_local_query_backend.strip().lower(),
            local_cache_dir=str(self.data_dir / "models"),
        )

    def generation(self) -> GenerationSettings:
        own_token = self.generation_token.get_secret_value().strip()
        return GenerationSettings(
            provider=self.generation_provider,
            model=self.generation_model.strip(),
            endpoint=self.generation_endpoint.strip(),
            token=self.generation_token if own_token else self.hf_token,
            token_setting="GENERATION_TOKEN" if own_token else "HF_TOKEN",
            router_url=self.hf_router_url.strip().rstrip("/"),
            max_tokens=self.generation_max_tokens,
            temperature=self.generation_temperature,
            context_tokens=self.generation_context_tokens,
            connect_timeout_s=self.generation_connect_timeout_s,
            read_timeout_s=self.generation_read_timeout_s,
            first_token_timeout_s=self.generation_first_token_timeout_s,
            total_timeout_s=self.generation_total_timeout_s,
        )

    def rerank(self) -> RerankSettings:
        own_token = self.rerank_token.get_secret_value().strip()
        return RerankSettings(
            provider=self.rerank_provider,
            model=self.rerank_model.strip(),
            endpoint=self.rerank_endpoint.strip(),
            token=self.rerank_token if own_token else self.hf_token,
            token_setting="RERANK_TOKEN" if own_token else "HF_TOKEN",
            top_n=self.rerank_top_n,
            timeout_s=self.rerank_timeout_s,
        )

    def chunking(self) -> ChunkingSettings:
        return ChunkingSettings(chunk_tokens=self.chunk_tokens, overlap_tokens=self.chunk_overlap)
