"""The bundled model exported to ONNX once, cached by recipe and weights, for ONNX Runtime.

Two recipes use it: ``embeddings.onnx_int8`` (documents, partly int8, opt-in) and
``embeddings.onnx_query`` (search queries, fp32). The graph includes mean pooling and L2
normalisation, so one ``session.run`` gives what sentence-transformers' ``encode`` gives.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

#: Turns the plain fp32 export (first path) into the recipe's file (second path).
Transform = Callable[[Path, Path], None]


def cached_export(
    model: Any, model_folder: Path, cache_dir: Path, recipe: str, transform: Transform | None
) -> Path:
    """The model exported (and transformed) by ``recipe``, made once into ``cache_dir``.

    Named by the recipe and the sha256 of ``model.safetensors``, written under a temporary name
    and renamed, so a half-written file is never loaded and two processes may race harmlessly.
    """
    digest = hashlib.sha256((model_folder / "model.safetensors").read_bytes()).hexdigest()[:16]
    target = cache_dir / f"all-MiniLM-L6-v2-{recipe}-{digest}.onnx"
    if target.is_file():
        return target
    cache_dir.mkdir(parents=True, exist_ok=True)
    log.info("exporting the local model to %s (once)", target)
    with tempfile.TemporaryDirectory(dir=cache_dir, prefix=".export-") as tmp:
        plain = Path(tmp) / "fp32.onnx"
        export_pooled(model, plain)
        if transform is None:
            os.replace(plain, target)
        else:
            transformed = Path(tmp) / "transformed.onnx"
            transform(plain, transformed)
            os.replace(transformed, target)
    return target


def export_pooled(model: Any, target: Path) -> None:
    """Transformer + mean pooling + L2 normalisation as one graph (what the torch path does)."""
    import warnings

    import torch

    class Pooled(torch.nn.Module):
        def __init__(self, body: torch.nn.Module) -> None:
            super().__init__()
            self.body = body

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            hidden = self.body(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(pooled, p=2, dim=1)

    names = list(INPUT_NAMES)
    sample = model.tokenizer(
        ["export the model", "a second, longer text so that one row is padded"],
        padding=True,
        return_tensors="pt",
    )
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            Pooled(model[0].auto_model).eval(),
            tuple(sample[name] for name in names),
            str(target),
            input_names=names,
            output_names=["embedding"],
            dynamic_axes={name: {0: "batch", 1: "tokens"} for name in names}
            | {"embedding": {0: "batch"}},
            opset_version=17,
            dynamo=False,
        )


INPUT_NAMES = ("input_ids", "attention_mask", "token_type_ids")
