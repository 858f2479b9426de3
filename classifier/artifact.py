"""Model directories: write once, verify on every load, refuse anything that does not match.

A model directory holds `model.pkl` (the fitted features and heads, pickled: load only model
directories you trust, like any scikit-learn model) and `manifest.json` (library
versions, training-data hash and row count, label sets, cross-validated metrics, file hashes). A
directory is written under a temporary name and renamed into place, then made read-only, so a
reader never sees half a model and nobody edits one after the fact.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import platform
import shutil
import tempfile
from importlib.metadata import version
from pathlib import Path
from typing import Any

from classifier.errors import ArtifactError

MANIFEST = "manifest.json"
MODEL_FILE = "model.pkl"
FORMAT = 1
# Pickled scikit-learn objects are only safe to load under the same major.minor versions.
CHECKED_LIBRARIES = ("scikit-learn", "numpy")


def library_versions() -> dict[str, str]:
    """Installed versions, read from package metadata: importing scikit-learn just to ask would
    cost every command that merely lists models most of a second."""
    libraries = ("scikit-learn", "numpy", "scipy", "joblib")
    return {"python": platform.python_version(), **{name: version(name) for name in libraries}}


def _major_minor(version: str) -> str:
    return ".".join(version.split(".")[:2])


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_artifact(out_dir: Path, payload: dict[str, Any], manifest: dict[str, Any]) -> Path:
    """Write payload and manifest into a new directory `out_dir`; it must not exist or be empty."""
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise ArtifactError(f"{out_dir} is a file; give a new directory for the model")
    if out_dir.exists() and any(out_dir.iterdir()):
        raise ArtifactError(f"{out_dir} already holds files; models are immutable, choose a new directory")
    try:
        out_dir.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ArtifactError(f"cannot create {out_dir}: {exc.strerror or exc}") from None
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
    try:
        # The C pickler: joblib's pure-Python pickler spent ~15 s on a 50k-ticket vocabulary.
        with (staging / MODEL_FILE).open("wb") as handle:
            pickle.dump(payload, handle, protocol=pickle.HIGHEST_PROTOCOL)
        full = {
            **manifest,
            "format": FORMAT,
            "libraries": library_versions(),
            "files": {MODEL_FILE: file_sha256(staging / MODEL_FILE)},
        }
        (staging / MANIFEST).write_text(json.dumps(full, indent=2, sort_keys=True, default=str) + "\n")
        for child in staging.iterdir():
            child.chmod(0o444)
        if out_dir.exists():
            out_dir.rmdir()
        os.replace(staging, out_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return out_dir


def read_manifest(model_dir: Path) -> dict[str, Any]:
    """The manifest, checked for presence, format, file hashes and library versions."""
    model_dir = Path(model_dir)
    if not model_dir.is_dir():
        raise ArtifactError(f"model directory {model_dir} does not exist")
    path = model_dir / MANIFEST
    try:
        manifest: dict[str, Any] = json.loads(path.read_text())
    except FileNotFoundError:
        raise ArtifactError(f"{model_dir} has no {MANIFEST}; it is not a model directory") from None
    except (OSError, ValueError) as exc:
        raise ArtifactError(f"{path} cannot be read ({exc}); the model is corrupted") from None
    if not isinstance(manifest, dict):
        raise ArtifactError(
            f"{path} holds a JSON {_json_type(manifest)}, not a model manifest; the model is corrupted"
        )
    if manifest.get("format") != FORMAT:
        raise ArtifactError(
            f"{model_dir} has model format {manifest.get('format')!r}; this version reads {FORMAT}"
        )
    _check_shape(path, manifest)
    files = manifest["files"]
    if MODEL_FILE not in files:
        raise ArtifactError(f"{path} lists no model files; the model is corrupted")
    for name, expected in files.items():
        file = model_dir / name
        if not file.is_file():
            raise ArtifactError(f"{model_dir} is missing {name}; the model is incomplete")
        if file_sha256(file) != expected:
            raise ArtifactError(f"{file} does not match the hash in its manifest; the model is corrupted")
    built = manifest["libraries"]
    running = library_versions()
    for lib in CHECKED_LIBRARIES:
        if _major_minor(str(built.get(lib, "?"))) != _major_minor(running[lib]):
            raise ArtifactError(
                f"{model_dir} was built with {lib} {built.get(lib, 'unknown')} but this process runs "
                f"{running[lib]}; retrain the model (`tierline classifier train`)"
            )
    return manifest


# Manifest keys every reader relies on (required, optional), and the JSON type each must have.
_REQUIRED: dict[str, type] = {"version": str, "files": dict, "libraries": dict, "labels": dict}
_OPTIONAL: dict[str, type] = {"data": dict, "folded_labels": dict, "merged_labels": dict}


def _check_shape(path: Path, manifest: dict[str, Any]) -> None:
    """Refuse a manifest that is valid JSON but not one we wrote (a key set to null, labels as a
    list): every reader would otherwise fail on it with a traceback instead of a sentence."""
    for key in _REQUIRED:
        if key not in manifest:
            raise ArtifactError(f"{path} has no {key!r}; the model is corrupted")
    for key, kind in {**_REQUIRED, **_OPTIONAL}.items():
        if key in manifest and not isinstance(manifest[key], kind):
            raise ArtifactError(
                f"{path}: {key!r} is a JSON {_json_type(manifest[key])}, not a JSON "
                f"{_json_type(kind())}; the model is corrupted"
            )
    if not all(
        isinstance(labels, list) and all(isinstance(label, str) for label in labels)
        for labels in manifest["labels"].values()
    ):
        raise ArtifactError(f"{path}: 'labels' must give each head a list of labels; the model is corrupted")


def _json_type(value: object) -> str:
    """The JSON name of a parsed value's type, as a person who opens the file sees it."""
    if value is None:
        return "null"
    names = {dict: "object", list: "array", str: "string", bool: "boolean", int: "number", float: "number"}
    return names.get(type(value), type(value).__name__)


def read_payload(model_dir: Path) -> dict[str, Any]:
    """The fitted objects; call only after `read_manifest` accepted the directory."""
    try:
        with (Path(model_dir) / MODEL_FILE).open("rb") as handle:
            payload = pickle.load(handle)  # verified against the manifest hash first
    except Exception as exc:  # any unpickling failure means the same thing to the user
        raise ArtifactError(
            f"{model_dir}/{MODEL_FILE} cannot be loaded ({exc.__class__.__name__}: {exc})"
        ) from None
    if not isinstance(payload, dict) or "features" not in payload or "heads" not in payload:
        raise ArtifactError(f"{model_dir}/{MODEL_FILE} does not hold a triage model")
    return payload
