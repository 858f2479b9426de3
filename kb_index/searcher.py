"""A searcher that follows the live index: it re-reads CURRENT cheaply on every search and
loads a newly swapped build without a restart."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np

from kb_index.calibration import Calibration, default_calibration
from kb_index.encoders import Encoder
from kb_index.search import BuildSearcher
from kb_index.store import load_index, pointer_stamp
from kb_index.types import SearchResult


class LiveSearcher:
    def __init__(self, root: Path, encoder: Encoder, threshold: float | None = None) -> None:
        self.root = root
        self.encoder = encoder
        self.threshold_override = threshold
        self._lock = threading.Lock()
        self._stamp: tuple[int, int] | None = None
        self._calibration_stamp: float | None = None
        self._searcher: BuildSearcher | None = None
        self._refresh()

    def _calibration(self) -> Calibration:
        loaded = Calibration.load(self.root)
        if loaded is not None and loaded.encoder.replace("-onnx", "") == self.encoder.key.replace(
            "-onnx", ""
        ):
            return loaded
        return default_calibration(self.encoder.key)

    def _refresh(self) -> BuildSearcher:
        """Reload when CURRENT or calibration.json changed (two stat calls when nothing did)."""
        stamp = pointer_stamp(self.root)
        cal_path = self.root / "calibration.json"
        cal_stamp = cal_path.stat().st_mtime_ns if cal_path.exists() else None
        with self._lock:
            if self._searcher is None or stamp != self._stamp:
                index = load_index(self.root, self.encoder)
                self._searcher = BuildSearcher(
                    index, self._calibration(), multilingual=self.encoder.multilingual
                )
                self._stamp, self._calibration_stamp = stamp, cal_stamp
            elif cal_stamp != self._calibration_stamp:
                self._searcher = BuildSearcher(
                    self._searcher.index, self._calibration(), multilingual=self.encoder.multilingual
                )
                self._calibration_stamp = cal_stamp
            return self._searcher

    @property
    def current(self) -> BuildSearcher:
        return self._refresh()

    def search(
        self, query: str, *, audiences: frozenset[str] = frozenset({"public"}), k: int = 3
    ) -> SearchResult:
        searcher = self._refresh()
        if not query.strip():
            return SearchResult(query, (), 0.0, self._threshold(searcher))
        vector = self.encoder.encode_queries([query])[0]
        return searcher.search(query, vector, audiences=audiences, k=k, threshold=self._threshold(searcher))

    def search_vector(
        self, query: str, vector: np.ndarray, *, audiences: frozenset[str], k: int
    ) -> SearchResult:
        searcher = self._refresh()
        return searcher.search(query, vector, audiences=audiences, k=k, threshold=self._threshold(searcher))

    def _threshold(self, searcher: BuildSearcher) -> float:
        return (
            self.threshold_override if self.threshold_override is not None else searcher.calibration.threshold
        )
