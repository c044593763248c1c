"""Sentence embeddings: all-MiniLM-L6-v2 through onnxruntime, padded per batch.

Chroma's own function pads every text to 256 tokens; padding to the longest text in the
batch is several times faster for short customer messages. Where no model folder exists the
lexical fallback (hashed character n-grams) keeps retrieval working, and says so loudly.
"""

from __future__ import annotations

import logging
import os
import threading
from collections import OrderedDict
from functools import lru_cache
from pathlib import Path

import numpy as np
from django.conf import settings

log = logging.getLogger(__name__)
DIM = 384
MAX_TOKENS = 256


def _candidate_dirs() -> list[Path]:
    dirs = []
    if settings.EMBEDDING_MODEL_DIR:
        dirs.append(Path(settings.EMBEDDING_MODEL_DIR))
    dirs.append(Path.home() / ".cache" / "chroma" / "onnx_models" / "all-MiniLM-L6-v2")
    dirs.append(Path(settings.BASE_DIR).parent / "shared" / "models" / "all-MiniLM-L6-v2")
    return dirs


def model_dir() -> Path | None:
    for base in _candidate_dirs():
        for folder in (base / "onnx", base):
            if (folder / "model.onnx").exists() and (folder / "tokenizer.json").exists():
                return folder
    return None


class MiniLM:
    name = "all-MiniLM-L6-v2"

    def __init__(self, folder: Path):
        import onnxruntime
        from tokenizers import Tokenizer

        self.tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self.tokenizer.enable_truncation(max_length=MAX_TOKENS)
        self.tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")  # pads to the batch's longest
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = int(os.environ.get("EMBEDDING_THREADS", "2"))
        options.inter_op_num_threads = 1
        self.session = onnxruntime.InferenceSession(
            str(folder / "model.onnx"), options, providers=["CPUExecutionProvider"]
        )
        self._lock = threading.Lock()

    def __call__(self, texts: list[str], batch_size: int = 32) -> np.ndarray:
        out = []
        for start in range(0, len(texts), batch_size):
            batch = [t or " " for t in texts[start : start + batch_size]]
            encoded = self.tokenizer.encode_batch(batch)
            ids = np.array([e.ids for e in encoded], dtype=np.int64)
            mask = np.array([e.attention_mask for e in encoded], dtype=np.int64)
            feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
            with self._lock:
                hidden = self.session.run(None, feeds)[0]
            weights = mask[..., None].astype(np.float32)
            pooled = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
            out.append(pooled / np.clip(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12, None))
        return np.vstack(out).astype(np.float32) if out else np.zeros((0, DIM), dtype=np.float32)


class LexicalFallback:
    """Hashed character n-grams: keeps retrieval alive with no model at all (much weaker)."""

    name = "lexical-fallback"

    def __init__(self):
        from sklearn.feature_extraction.text import HashingVectorizer

        self.vectorizer = HashingVectorizer(
            n_features=DIM, analyzer="char_wb", ngram_range=(3, 4), alternate_sign=False, norm="l2"
        )

    def __call__(self, texts: list[str], batch_size: int = 0) -> np.ndarray:
        return self.vectorizer.transform([t.lower() for t in texts]).toarray().astype(np.float32)


class LiteLLMEmbedder:
    def __init__(self, model: str):
        self.name = model

    def __call__(self, texts: list[str], batch_size: int = 0) -> np.ndarray:
        from tickets.llm import embed

        vectors = np.array(embed(texts), dtype=np.float32)
        return vectors / np.clip(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12, None)


@lru_cache(maxsize=1)
def embedder():
    if settings.EMBEDDING_MODEL:
        return LiteLLMEmbedder(settings.EMBEDDING_MODEL)
    folder = model_dir()
    if folder is not None:
        return MiniLM(folder)
    log.error(
        "NO EMBEDDING MODEL FOUND (looked in %s): retrieval uses the lexical fallback and will be "
        "much less accurate. Set EMBEDDING_MODEL_DIR to an all-MiniLM-L6-v2 ONNX folder.",
        ", ".join(str(d) for d in _candidate_dirs()),
    )
    return LexicalFallback()


_CACHE_SIZE = 4096
_cache: OrderedDict[tuple[str, str], np.ndarray] = OrderedDict()
_cache_lock = threading.Lock()


def embed(texts: list[str]) -> np.ndarray:
    """Vectors for texts, remembering recent ones: classify and retrieval embed the same
    message, and re-indexing an article re-embeds mostly unchanged passages."""
    model = embedder()
    keys = [(model.name, t) for t in texts]
    with _cache_lock:
        missing = [k for k in dict.fromkeys(keys) if k not in _cache]
    if missing:
        vectors = model([t for _, t in missing])
        with _cache_lock:
            for key, vector in zip(missing, vectors, strict=True):
                _cache[key] = vector
            while len(_cache) > _CACHE_SIZE:
                _cache.popitem(last=False)
    with _cache_lock:
        found = []
        for key in keys:
            vector = _cache.get(key)
            if vector is None:  # evicted by a concurrent caller between the two locks
                vector = model([key[1]])[0]
            else:
                _cache.move_to_end(key)
            found.append(vector)
    return np.vstack(found) if found else np.zeros((0, DIM), dtype=np.float32)


def reset() -> None:
    embedder.cache_clear()
    with _cache_lock:
        _cache.clear()
