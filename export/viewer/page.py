"""The viewer page: one self-contained HTML file that plays dances beside each other with their music, offline.

A page holds scenes (a song each: its music, its beats and its lanes, the dances drawn side by side on one time
base). Everything is inlined: the joints of each lane, quantised to int16 at a resolution of at most `MAX_STEP_M`
relative to the root (whose path is kept as float32), stored as differences along time and gzipped; the music as mp3
(as given, or re-encoded: every browser plays it), once per file however many scenes use it; the drawing code
(`viewer.js`, canvas 2D, no library). A Content-Security-Policy of `default-src 'none'` forbids the page any network
request.

    scene = Scene("song", [Lane("generated", joints), Lane("ground truth", gt)], music=Path("song.wav"))
    write_viewer("viewer.html", [scene], title="my dances")
"""

from __future__ import annotations

import base64
import gzip
import html
import io
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import librosa
import numpy as np
import soundfile as sf

from motion.skeleton import N_BODY_JOINTS, N_JOINTS, PARENTS
from utils.atomic import write_text
from utils.audio import RESAMPLE_TYPE, load_audio
from utils.cli import UserError

HERE = Path(__file__).parent
FPS = 30.0
MAX_STEP_M = 0.001  # quantisation step bound (metres); the actual step is usually far smaller
ENCODED_RATE = 44100  # re-encoded music: mp3 at this rate (or the file's own, when lower)
MP3_COMPRESSION = 0.5  # libsndfile's 0 (best) .. 1 (smallest)
GENERATOR = "soulnet viewer 1"
ENCODE_BLOCK = 1 << 15  # frames per write to the Vorbis encoder


@dataclass
class Lane:
    """One dance drawn in its own viewport.

    Args:
        name: shown above it.
        joints: (T, 22|52, 3) metres, Y up, our joint order (body 0-21, fingers 22-51).
        motion_beats: frames of its dance beats for the time bar (default: `motion_beats_bailando`, as BAS counts).
    """

    name: str
    joints: np.ndarray
    motion_beats: np.ndarray | None = None


@dataclass
class Scene:
    """Lanes on one time base with their music.

    Args:
        name: the song (or sequence) name, shown in the page's scene list.
        lanes: the dances, drawn side by side.
        music: a music file (any the project reads); played as the page's clock.
        beats: music beat times (s) for the time bar (default: tracked from `music`; none without music).
        spans: (start, end) seconds marked on the time bar (an edit's kept spans), named `span_label`.
    """

    name: str
    lanes: list[Lane]
    music: Path | None = None
    beats: np.ndarray | None = None
    beat_source: str = field(default="", repr=False)
    spans: list[tuple[float, float]] = field(default_factory=list)
    span_label: str = "kept"


def encode_joints(joints: np.ndarray) -> tuple[dict, bytes]:
    """A lane's block: the root's path as float32 (3, T), then the joints relative to the root quantised to int16
    (per-axis centre, one step of at most `MAX_STEP_M`), channel-major differences along time; gzipped.
    -> (meta {frames, joints, scale, offset}, bytes)"""
    joints = np.asarray(joints, dtype=np.float64)
    root = joints[:, :1].astype(np.float32)  # (T, 1, 3): any distance travelled
    rel = joints - root  # (T, J, 3): within a body's reach of the root
    lo, hi = rel.reshape(-1, 3).min(axis=0), rel.reshape(-1, 3).max(axis=0)
    offset = (lo + hi) / 2
    half = float(np.max(hi - lo)) / 2
    scale = max(half / 32000.0, 1e-6)
    if scale > MAX_STEP_M:
        raise UserError(f"a joint lies {half:.0f} m from the root: not a body (the viewer stores up to 32 m)")
    q = np.rint((rel - offset) / scale).astype(np.int16)  # (T, J, 3)
    channels = q.reshape(len(q), -1).T  # (J*3, T)
    deltas = np.diff(channels, axis=1, prepend=np.zeros((len(channels), 1), np.int16))  # wraps like int16 in JS
    meta = {
        "frames": int(joints.shape[0]),
        "joints": int(joints.shape[1]),
        "scale": scale,
        "offset": [float(v) for v in offset],
    }
    data = np.ascontiguousarray(root[:, 0].T).astype("<f4").tobytes() + deltas.astype("<i2").tobytes()
    return meta, gzip.compress(data, compresslevel=9, mtime=0)


def decode_joints(meta: dict, data: bytes) -> np.ndarray:
    """The joints (T, J, 3) float64 of `encode_joints`, as the page computes them."""
    raw, t, j = gzip.decompress(data), meta["frames"], meta["joints"]
    root = np.frombuffer(raw[: 12 * t], dtype="<f4").reshape(3, t).T.astype(np.float64)  # (T, 3)
    deltas = np.frombuffer(raw[12 * t :], dtype="<i2").reshape(j * 3, t)
    q = np.cumsum(deltas, axis=1, dtype=np.int16).T.reshape(t, j, 3)
    return root[:, None] + q * meta["scale"] + np.asarray(meta["offset"])


def audio_payload(path: Path) -> tuple[str, bytes]:
    """(MIME type, bytes) of a music file as the page plays it: mp3 as it is, anything else (wav, flac, ogg, the
    audio of a video) re-encoded to mp3, which every current browser plays (Safari does not play Ogg)."""
    path = Path(path)
    if path.suffix.lower() == ".mp3":
        try:
            sf.info(path)
        except (sf.LibsndfileError, RuntimeError):
            load_audio(path)  # a broken file: its one-line error
        return "audio/mpeg", path.read_bytes()
    y, sr = load_audio(path, mono=False)  # (N,) or (C, N)
    if sr > ENCODED_RATE:
        y, sr = librosa.resample(y, orig_sr=sr, target_sr=ENCODED_RATE, res_type=RESAMPLE_TYPE), ENCODED_RATE
    frames = np.ascontiguousarray(np.atleast_2d(y).T)  # (N, C)
    buf = io.BytesIO()
    with sf.SoundFile(
        buf, "w", sr, frames.shape[1], format="MP3", subtype="MPEG_LAYER_III", compression_level=MP3_COMPRESSION
    ) as out:
        for start in range(0, len(frames), ENCODE_BLOCK):  # one large write crashes libsndfile's encoders
            out.write(frames[start : start + ENCODE_BLOCK])
    return "audio/mpeg", buf.getvalue()


def music_beats(path: Path) -> np.ndarray:
    """Beat times (s) of a music file, tracked as the default evaluation protocol tracks them (`fixed`)."""
    from evaluation.metrics.music_beats import track_beats  # librosa's tracker: only when a page asks for beats

    return np.asarray(track_beats(path, "fixed"), dtype=np.float64)


def _motion_beats(joints: np.ndarray) -> np.ndarray:
    from evaluation.metrics.beat_align import motion_beats_bailando

    return motion_beats_bailando(np.asarray(joints, dtype=np.float64))


def _check_lane(lane: Lane) -> np.ndarray:
    j = np.asarray(lane.joints)
    if j.ndim != 3 or j.shape[1] not in (N_BODY_JOINTS, N_JOINTS) or j.shape[2] != 3 or len(j) < 1:
        raise UserError(f"{lane.name}: the viewer draws joints (T, 22 or 52, 3), got {j.shape}")
    if not np.isfinite(j).all():
        raise UserError(f"{lane.name}: joints contain NaN or Inf")
    return j


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _lane_meta(lane: Lane, blob) -> dict:
    """A lane's entry of the page's metadata; its encoded joints go to `blob` (which returns their index)."""
    joints = _check_lane(lane)
    meta, data = encode_joints(joints)
    mb = _motion_beats(joints) if lane.motion_beats is None else np.asarray(lane.motion_beats)
    floor = float(np.percentile(joints[..., 1].min(axis=1), 2))  # the lowest joint, robust to a glitch
    return {
        "name": lane.name,
        **meta,
        "floor": round(floor, 4),
        "blob": blob(data),
        "motion_beats": [int(f) for f in mb],
    }


def build_page(scenes: list[Scene], title: str, fps: float = FPS, beats: bool = True) -> str:
    """The HTML text of a viewer page for `scenes` (the first opens first). `beats`: track the music's beats when a
    scene gives none (librosa; a few seconds per song)."""
    if not scenes or any(not s.lanes for s in scenes):
        raise UserError("the viewer needs at least one scene with one dance")
    blobs: list[str] = []

    def blob(data: bytes) -> int:
        blobs.append(_b64(data))
        return len(blobs) - 1

    meta_scenes, audio_blobs = [], {}  # one copy of each music file, however many scenes play it
    for scene in scenes:
        lanes = [_lane_meta(lane, blob) for lane in scene.lanes]
        audio, times, source = None, scene.beats, scene.beat_source
        if scene.music is not None:
            key = Path(scene.music).resolve()
            if key not in audio_blobs:
                mime, data = audio_payload(scene.music)
                audio_blobs[key] = {"blob": blob(data), "mime": mime}
            audio = {**audio_blobs[key], "name": Path(scene.music).name}
            if times is None and beats:
                times, source = music_beats(Path(scene.music)), "tracked (librosa, protocol fixed)"
        frames = max(lane["frames"] for lane in lanes)
        meta_scenes.append(
            {
                "name": scene.name,
                "duration": (frames - 1) / fps if frames > 1 else 1 / fps,
                "audio": audio,
                "beats": [round(float(t), 4) for t in (times if times is not None else [])],
                "beat_source": source,
                "lanes": lanes,
                "span_label": scene.span_label,
                "spans": [[round(float(a), 4), round(float(b), 4)] for a, b in scene.spans],
            }
        )
    meta = {"title": title, "fps": fps, "parents": [int(p) for p in PARENTS], "scenes": meta_scenes}
    # JSON inside <script>: no "<" may close the element early
    meta_text = json.dumps(meta, separators=(",", ":")).replace("<", "\\u003c").replace(">", "\\u003e")
    parts = {
        "TITLE": html.escape(title),
        "GENERATOR": GENERATOR,
        "CSS": (HERE / "viewer.css").read_text(),
        "META": meta_text,
        "BLOBS": "\n".join(f'<script type="text/plain" id="blob-{i}">{b}</script>' for i, b in enumerate(blobs)),
        "JS": (HERE / "viewer.js").read_text(),
    }
    template = (HERE / "template.html").read_text()
    return re.sub(r"__(TITLE|GENERATOR|CSS|META|BLOBS|JS)__", lambda m: parts[m.group(1)], template)


def write_viewer(
    path: str | Path, scenes: list[Scene], title: str | None = None, fps: float = FPS, beats: bool = True
) -> Path:
    """Write the viewer page of `scenes` to `path` (atomically). Returns the path."""
    path = Path(path)
    write_text(path, build_page(scenes, title or path.stem, fps, beats))
    return path


def read_page_meta(path: str | Path) -> dict:
    """The scenes and lanes a viewer page holds (its JSON, without the binary blocks), for scripts and tests."""
    text = Path(path).read_text()
    found = re.search(r'<script type="application/json" id="soul-meta">(.*?)</script>', text, re.S)
    if found is None:
        raise UserError(f"{path}: not a viewer page of this project")
    return json.loads(found.group(1))
