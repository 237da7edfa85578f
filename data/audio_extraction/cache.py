"""Music features cached by the content of their audio file: a replaced song is extracted again.

`<dir>/<song>.npy` holds the features and `<dir>/<song>.source.json` records what they were made from: the audio
file's name, size, modification time and SHA-256, and the extraction options. Cached features are used only when the
record matches the file as it is now (size and hash: a touched or copied file with the same bytes is not extracted
again, a replaced one always is, even with the same name, size and time); features without a record (an older build,
an interrupted write) are extracted again. Every file is written atomically (`utils.atomic`).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from pathlib import Path

import numpy as np

from utils.atomic import save_npy, write_json
from utils.checkpoint import file_fingerprint

logger = logging.getLogger(__name__)

CACHE_FORMAT = 1  # bump when the record or the features' meaning changes: every cache is then redone


def record_path(features: Path) -> Path:
    """The record beside a features file: `<song>.npy` -> `<song>.source.json`."""
    return features.with_name(f"{features.stem}.source.json")


def source_record(audio: Path, options: dict | None = None) -> dict:
    """What features of `audio` made with `options` depend on: name, size, modification time, SHA-256, options."""
    st = audio.stat()
    shown = {k: str(v) for k, v in sorted((options or {}).items())}
    return {
        "format": CACHE_FORMAT,
        "file": audio.name,
        "size": st.st_size,
        "mtime_ns": st.st_mtime_ns,
        "sha256": file_fingerprint(audio),
        "options": shown,
    }


def _matches(recorded: dict, audio: Path, options: dict | None) -> bool:
    """True when `recorded` describes `audio` as it is now (hashed only when its size still matches)."""
    if recorded.get("format") != CACHE_FORMAT or recorded.get("size") != audio.stat().st_size:
        return False
    current = source_record(audio, options)
    return all(recorded.get(k) == current[k] for k in ("sha256", "options"))


def _read_record(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def cached_features(out: Path, audio: Path, extract: Callable[[], np.ndarray], options: dict | None = None) -> Path:
    """`out` (.npy) holding the features of `audio`: kept when its record matches the file, else `extract()`ed and
    written with a new record.

    Args:
        out: the features file.
        audio: the music file they are made from.
        extract: computes the features (called only when the cache is stale or missing).
        options: extraction options that change the features (recorded and compared as text).
    Returns:
        `out`.
    """
    record = record_path(out)
    if out.is_file() and record.is_file() and _matches(_read_record(record), audio, options):
        return out
    if out.is_file():
        logger.info("%s: %s changed or has no record; extracting its features again", out, audio)
    current = source_record(audio, options)  # taken before extraction: a file replaced meanwhile is redone next time
    record.unlink(missing_ok=True)  # no record while the features are rewritten
    save_npy(out, np.asarray(extract()))
    write_json(record, current)
    return out
