"""Synthetic music-dance pairs: the embedded dataset that `make demo` and the tests train on, written by us.

Per song: a tempo drawn uniformly in 80-140 BPM, a random beat phase, one of four styles whose timbre (drum kit,
bass, chords) and move vocabulary change together, and sections that follow a motif order (e.g. A A B A C B).
The music is synthesised (kick, snare, hats, bass, chords); the dance is a 52-joint SMPL-X motion with 100 face
expression coefficients that moves from one key pose to the next on every beat with an ease-in-out profile, so
every joint stops on the beat (a hold or a change of direction: the mean joint speed has a local minimum there)
and is fastest between beats. Ground truth (tempo, beat times, style, sections) is written beside each pair.

    python -m data.synthetic_dance [--out data/synthetic] [--songs 8] [--seconds 20] [--seed 0]
"""

from __future__ import annotations

import argparse
import logging
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import soundfile as sf

from data.formats.motion import SMPLXMotion
from motion.frame import FPS
from motion.layout import FACE_DIM
from motion.rotation import axis_angle_to_matrix, matrix_to_axis_angle
from motion.skeleton import BODY_JOINT_NAMES, SMPLX_N_JOINTS
from utils.arg_types import positive_float, positive_int, seed_int
from utils.atomic import atomic_path, write_json
from utils.cli import UserError, setup_logging, user_errors_exit

logger = logging.getLogger(__name__)

SR = 22050  # sample rate of the rendered music
TEMPO_RANGE = (80.0, 140.0)
BEATS_PER_BAR = 4
SECTION_BARS = 2  # a motif spans two bars (8 beats)
MOTIF_ORDERS = ("AABA", "ABAC", "ABCB", "AABB", "ABAB", "ABCA")
_J = {name: i for i, name in enumerate(BODY_JOINT_NAMES)}
_X, _Y, _Z = 0, 1, 2
LEFT_HAND, RIGHT_HAND = 25, 40  # first finger joint of each hand in the SMPL-X joint order (15 each)


# ------------------------------------------------------------------------------------------------ styles
@dataclass(frozen=True)
class Style:
    """A dance style: its sound and its move vocabulary.

    Args:
        name: style name.
        kick, snare, hats: eighth-note positions (0-7) of each drum in a bar.
        kick_pitch: (start, end) Hz of the kick's pitch sweep; snare_tone: Hz of the snare's body.
        bass_wave, chord_wave: "sine", "saw" or "square"; bass_steps: eighth-note positions of bass notes.
        chord_stabs: eighth-note positions of chord stabs (empty: one sustained pad per bar).
        progressions: chord roots (semitones above A2) per bar of a motif, one pair per motif letter.
        moves: primitive -> (low, high) range of its key-pose value (see `key_pose`); "knee" alternates low/high.
        turn: radians of body turn added at the start of each section.
    """

    name: str
    kick: tuple[int, ...]
    snare: tuple[int, ...]
    hats: tuple[int, ...]
    kick_pitch: tuple[float, float]
    snare_tone: float
    bass_wave: str
    bass_steps: tuple[int, ...]
    chord_wave: str
    chord_stabs: tuple[int, ...]
    progressions: dict[str, tuple[int, int]]
    moves: dict[str, tuple[float, float]] = field(default_factory=dict)
    turn: float = 0.0


STYLES = {
    "hiphop": Style(
        "hiphop",
        kick=(0, 3, 5),
        snare=(2, 6),
        hats=(0, 1, 2, 3, 4, 5, 6, 7),
        kick_pitch=(140, 45),
        snare_tone=190,
        bass_wave="sine",
        bass_steps=(0, 3, 5),
        chord_wave="square",
        chord_stabs=(),
        progressions={"A": (0, 3), "B": (5, 7), "C": (8, 3)},
        moves={
            "knee": (0.15, 0.75),
            "arm_raise": (0.2, 0.7),
            "elbow": (1.0, 1.9),
            "head_nod": (-0.1, 0.35),
            "twist": (-0.25, 0.25),
            "curl": (0.7, 1.0),
            "lean": (0.0, 0.25),
            "step": (-0.08, 0.08),
        },
        turn=0.0,
    ),
    "house": Style(
        "house",
        kick=(0, 2, 4, 6),
        snare=(2, 6),
        hats=(1, 3, 5, 7),
        kick_pitch=(160, 50),
        snare_tone=230,
        bass_wave="saw",
        bass_steps=(1, 3, 5, 7),
        chord_wave="saw",
        chord_stabs=(1, 4, 7),
        progressions={"A": (0, 5), "B": (3, 10), "C": (7, 5)},
        moves={
            "knee": (0.1, 0.45),
            "sway": (-0.3, 0.3),
            "arm_swing": (-0.6, 0.6),
            "elbow": (0.3, 1.0),
            "arm_raise": (0.1, 0.5),
            "head_nod": (-0.05, 0.2),
            "curl": (0.1, 0.4),
            "step": (-0.25, 0.25),
        },
        turn=0.0,
    ),
    "latin": Style(
        "latin",
        kick=(0, 3, 4, 7),
        snare=(3, 6),
        hats=(0, 2, 3, 5, 6),
        kick_pitch=(120, 60),
        snare_tone=330,
        bass_wave="square",
        bass_steps=(0, 3, 4, 7),
        chord_wave="sine",
        chord_stabs=(2, 5),
        progressions={"A": (0, 7), "B": (5, 0), "C": (2, 7)},
        moves={
            "knee": (0.1, 0.35),
            "sway": (-0.45, 0.45),
            "twist": (-0.45, 0.45),
            "arm_raise": (0.6, 1.2),
            "elbow": (0.3, 0.9),
            "curl": (0.0, 0.3),
            "head_turn": (-0.3, 0.3),
            "step": (-0.15, 0.15),
        },
        turn=np.pi / 2,
    ),
    "pop": Style(
        "pop",
        kick=(0, 4),
        snare=(2, 6),
        hats=(0, 2, 4, 6),
        kick_pitch=(150, 55),
        snare_tone=260,
        bass_wave="saw",
        bass_steps=(0, 2, 4, 6),
        chord_wave="sine",
        chord_stabs=(),
        progressions={"A": (0, 8), "B": (5, 3), "C": (10, 5)},
        moves={
            "knee": (0.1, 0.55),
            "arm_raise": (0.4, 1.7),
            "arm_swing": (-0.4, 0.8),
            "elbow": (0.0, 1.4),
            "head_turn": (-0.35, 0.35),
            "curl": (0.0, 0.8),
            "sway": (-0.2, 0.2),
            "step": (-0.1, 0.1),
        },
        turn=np.pi,
    ),
}


# ------------------------------------------------------------------------------------------------ the song plan
@dataclass
class SongPlan:
    """Everything about one synthetic song that the music, the dance and the ground truth share.

    Args:
        name: song id.
        style: a key of `STYLES`.
        bpm: tempo; beat k is at `phase + k * 60 / bpm` seconds.
        phase: time of beat 0 (s), in [0, 60 / bpm).
        seconds: duration.
        motif_order: one letter per section, cycled to fill the song.
        seed: the random seed of the song's details.
    """

    name: str
    style: str
    bpm: float
    phase: float
    seconds: float
    motif_order: str
    seed: int

    @property
    def beat_period(self) -> float:
        return 60.0 / self.bpm

    def beat_times(self) -> np.ndarray:
        """Every beat inside the song (s)."""
        return np.arange(self.phase, self.seconds, self.beat_period)

    def section_of_beat(self, k: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(section index, beat within the section) of beat numbers k (which may be negative)."""
        per = BEATS_PER_BAR * SECTION_BARS
        return np.floor_divide(k, per), np.mod(k, per)

    def motif(self, section: int) -> str:
        return self.motif_order[section % len(self.motif_order)]

    def ground_truth(self) -> dict:
        """Tempo, beat times, style and sections, as written beside each pair."""
        beats = self.beat_times()
        per = BEATS_PER_BAR * SECTION_BARS
        sections = []
        first = -1 if self.phase > 0 else 0  # the pre-roll before beat 0 belongs to section -1 (the last motif)
        for s in range(first, int(np.ceil(len(beats) / per))):
            start = self.phase + s * per * self.beat_period
            sections.append(
                {
                    "motif": self.motif(s),
                    "start_s": round(max(0.0, start), 6),
                    "start_beat": s * per,
                    "end_s": round(min(self.seconds, start + per * self.beat_period), 6),
                }
            )
        return {
            **asdict(self),
            "beat_times_s": [round(float(b), 6) for b in beats],
            "sections": sections,
            "fps": FPS,
            "sr": SR,
            "beats_per_bar": BEATS_PER_BAR,
        }


def plan_song(
    seed: int, seconds: float, style: str | None = None, bpm: float | None = None, phase: float | None = None
) -> SongPlan:
    """Draw a song: tempo U(80, 140) BPM, random phase, a style and a motif order (unless given)."""
    if seed < 0 or seconds < 2 / FPS:
        raise UserError(f"a song needs seed >= 0 and at least 2 frames ({2 / FPS:.3f} s), got {seed}, {seconds} s")
    if style is not None and style not in STYLES:
        raise UserError(f"unknown style {style!r}; styles: {', '.join(sorted(STYLES))}")
    rng = np.random.default_rng(seed)
    bpm = float(rng.uniform(*TEMPO_RANGE)) if bpm is None else float(bpm)
    phase = float(rng.uniform(0, 60.0 / bpm)) if phase is None else float(phase)
    style = style or str(rng.choice(sorted(STYLES)))
    order = str(rng.choice(MOTIF_ORDERS))
    return SongPlan(
        name=f"synth_{seed:04d}_{style}",
        style=style,
        bpm=bpm,
        phase=phase,
        seconds=float(seconds),
        motif_order=order,
        seed=seed,
    )


# ------------------------------------------------------------------------------------------------ music
def _wave(kind: str, freq: float | np.ndarray, t: np.ndarray) -> np.ndarray:
    """A band-limited oscillator: sine, or the first harmonics of a saw / square."""
    if kind == "sine":
        return np.sin(2 * np.pi * freq * t)
    harmonics = range(1, 8) if kind == "saw" else range(1, 8, 2)
    return sum(np.sin(2 * np.pi * h * freq * t) / h for h in harmonics) * (0.55 if kind == "saw" else 0.8)


def _drum_kit(style: Style, rng: np.random.Generator) -> dict[str, np.ndarray]:
    t = np.arange(int(0.25 * SR)) / SR
    f0, f1 = style.kick_pitch
    kick = np.sin(2 * np.pi * (f1 * t + (f0 - f1) * 0.03 * (1 - np.exp(-t / 0.03)))) * np.exp(-t / 0.09)
    noise = rng.normal(size=len(t))
    snare = 0.5 * np.sin(2 * np.pi * style.snare_tone * t) * np.exp(-t / 0.05) + 0.4 * noise * np.exp(-t / 0.07)
    hat = np.diff(noise, prepend=0.0) * np.exp(-t / 0.015) * 0.18
    return {"kick": kick, "snare": snare, "hat": hat}


def _add(y: np.ndarray, sound: np.ndarray, at_s: float, gain: float = 1.0) -> None:
    i = int(round(at_s * SR))
    if 0 <= i < len(y):
        seg = y[i : i + len(sound)]
        seg += gain * sound[: len(seg)]


def render_music(plan: SongPlan) -> np.ndarray:
    """The song's audio, mono float32 at `SR`, peak 0.9. -> (N,)"""
    style = STYLES[plan.style]
    rng = np.random.default_rng(plan.seed + 1)
    kit = _drum_kit(style, rng)
    y = np.zeros(int(plan.seconds * SR))
    eighth = plan.beat_period / 2
    note_t = np.arange(int(eighth * 1.6 * SR)) / SR
    bar_t = np.arange(int(BEATS_PER_BAR * plan.beat_period * SR)) / SR
    n_bars = int(np.ceil((plan.seconds - plan.phase) / (BEATS_PER_BAR * plan.beat_period))) + 1
    for bar in range(-1, n_bars):
        start = plan.phase + bar * BEATS_PER_BAR * plan.beat_period
        section, _ = plan.section_of_beat(np.array(bar * BEATS_PER_BAR))
        root = 110.0 * 2 ** (style.progressions[plan.motif(int(section))][bar % SECTION_BARS] / 12)
        for p in range(2 * BEATS_PER_BAR):
            at = start + p * eighth
            if p in style.kick:
                _add(y, kit["kick"], at, 0.9 if p % 2 == 0 else 0.35)  # on-beat kicks louder
            if p in style.snare:
                _add(y, kit["snare"], at, 0.5)
            if p in style.hats:
                _add(y, kit["hat"], at, 0.6 if p % 2 else 0.35)
            if p in style.bass_steps:
                _add(y, 0.25 * _wave(style.bass_wave, root / 2, note_t) * np.exp(-note_t / (0.8 * eighth)), at)
            if p in style.chord_stabs:
                stab = sum(_wave(style.chord_wave, root * 2 ** (i / 12), note_t[: len(note_t) // 2]) for i in (0, 4, 7))
                _add(y, 0.05 * stab * np.exp(-note_t[: len(stab)] / 0.08), at)
        if not style.chord_stabs:
            envelope = np.minimum(1.0, bar_t / 0.05) * np.exp(-bar_t / 3.0)
            pad = sum(_wave(style.chord_wave, root * 2 ** (i / 12), bar_t) for i in (0, 3 if bar % 2 else 4, 7))
            _add(y, 0.035 * pad * envelope, start)
    return (0.9 * y / max(np.abs(y).max(), 1e-9)).astype(np.float32)


# ------------------------------------------------------------------------------------------------ dance
PRIMITIVES = (
    "knee",
    "sway",
    "twist",
    "lean",
    "arm_raise",
    "arm_swing",
    "elbow",
    "curl",
    "head_nod",
    "head_turn",
    "step",
)


def key_pose(params: dict[str, float], mirror: float) -> np.ndarray:
    """SMPL-X axis-angle pose (55, 3) of one key pose; `mirror` (+1/-1) says which arm leads."""
    pose = np.zeros((SMPLX_N_JOINTS, 3))
    knee = params.get("knee", 0.2)
    for side, sign in (("left", 1.0), ("right", -1.0)):
        lead = 1.0 if sign == mirror else 0.6  # the leading arm moves more
        pose[_J[f"{side}_hip"], _X] = -0.6 * knee
        pose[_J[f"{side}_knee"], _X] = knee
        pose[_J[f"{side}_ankle"], _X] = -0.4 * knee
        pose[_J[f"{side}_hip"], _Z] = sign * 0.06 + 0.5 * params.get("sway", 0.0) * 0.3
        pose[_J[f"{side}_shoulder"], _Z] = -sign * (1.2 - lead * params.get("arm_raise", 0.3))  # 0: arm down
        pose[_J[f"{side}_shoulder"], _Y] = sign * lead * params.get("arm_swing", 0.0)
        pose[_J[f"{side}_elbow"], _Y] = sign * lead * params.get("elbow", 0.4)
        pose[_J[f"{side}_wrist"], _X] = 0.3 * params.get("sway", 0.0)
        curl = params.get("curl", 0.2)
        first = LEFT_HAND if sign > 0 else RIGHT_HAND
        for k in range(15):  # index, middle, pinky, ring (3 each), thumb last: curl about Z, thumb about Y
            axis = _Y if k >= 12 else _Z
            pose[first + k, axis] = -sign * curl * (0.5 if k >= 12 else 1.0) * (1 - 0.15 * (k % 3))
    pose[_J["pelvis"], _Z] = params.get("sway", 0.0) * 0.25
    for joint in ("spine1", "spine2", "spine3"):
        pose[_J[joint], _Y] = params.get("twist", 0.0) / 3
        pose[_J[joint], _X] = params.get("lean", 0.0) / 3
        pose[_J[joint], _Z] = -params.get("sway", 0.0) * 0.2
    pose[_J["neck"], _X] = params.get("head_nod", 0.0)
    pose[_J["head"], _Y] = params.get("head_turn", 0.0)
    pose[22, _X] = 0.05 + 0.1 * abs(params.get("head_nod", 0.0))  # jaw
    return pose


def _motif_keys(style: Style, letter: str, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Key poses (8, 55, 3), root offsets (8, 3) and face keys (8, 100) of one motif of a style."""
    rng = np.random.default_rng([seed, ord(letter)])
    per = BEATS_PER_BAR * SECTION_BARS
    poses, offsets, faces = [], [], []
    for k in range(per):
        params = {name: float(rng.uniform(lo, hi)) for name, (lo, hi) in style.moves.items()}
        lo, hi = style.moves.get("knee", (0.15, 0.5))
        params["knee"] = hi if k % 2 == 0 else lo  # down on even beats, up on odd: every beat is a change
        poses.append(key_pose(params, mirror=1.0 if (k // 2) % 2 == 0 else -1.0))
        step = params.get("step", 0.0)
        offsets.append([step, -0.12 * params["knee"], 0.3 * step * (1 if k % 4 < 2 else -1)])
        face = np.zeros(FACE_DIM)
        face[:10] = rng.normal(scale=0.6, size=10)
        faces.append(face)
    return np.stack(poses), np.asarray(offsets), np.stack(faces)


def _ease(phase: np.ndarray) -> np.ndarray:
    """Ease-in-out from 0 to 1 over one beat; its slope is 0 at both ends and largest half-way."""
    return phase - np.sin(2 * np.pi * phase) / (2 * np.pi)


def dance_for(plan: SongPlan, n_frames: int | None = None, fps: float = FPS) -> SMPLXMotion:
    """The dance of a song: key poses on every beat, eased in between, so joints stop on the beats.

    Returns `SMPLXMotion` with poses (T, 165), trans (T, 3), zero betas and expressions (T, 100), T = round(fps * s).
    """
    style = STYLES[plan.style]
    n_frames = round(plan.seconds * fps) if n_frames is None else n_frames
    t = np.arange(n_frames) / fps
    u = (t - plan.phase) / plan.beat_period  # beat position of every frame
    k0 = np.floor(u).astype(np.int64)
    k_all = np.arange(k0.min(), k0.max() + 2)  # every beat number the frames touch
    section, within = plan.section_of_beat(k_all)
    letters = sorted(set(plan.motif_order))
    keys = [np.stack(k) for k in zip(*(_motif_keys(style, m, plan.seed) for m in letters), strict=True)]  # (M, 8, ...)
    motif_idx = np.array([letters.index(plan.motif(int(s))) for s in section])  # motif of each beat's section
    keys_pose, keys_off, keys_face = (k[motif_idx, within] for k in keys)
    base_yaw = np.random.default_rng([plan.seed, 7]).uniform(-0.4, 0.4)  # facing: never exactly +-Z (see below)
    yaw = base_yaw + style.turn * section.astype(np.float64)  # a turn at each new section
    i0, i1 = k0 - k_all[0], k0 - k_all[0] + 1
    w = _ease(u - k0)[:, None]  # (T, 1)

    def blend(keys: np.ndarray) -> np.ndarray:
        flat = keys.reshape(len(keys), -1)
        return (1 - w) * flat[i0] + w * flat[i1]

    poses = blend(keys_pose).reshape(n_frames, SMPLX_N_JOINTS, 3)
    heading = blend(yaw[:, None])[:, 0]
    # HumanML3D's facing quaternion is undefined for a dancer facing exactly backwards (-Z) in the first frame, so
    # the per-song base yaw keeps headings off the multiples of pi.
    turn = axis_angle_to_matrix(np.stack([np.zeros_like(heading), heading, np.zeros_like(heading)], -1))
    poses[:, 0] = matrix_to_axis_angle(turn @ axis_angle_to_matrix(poses[:, 0]))  # turn about the vertical
    offsets = blend(keys_off)
    trans = np.stack(
        [
            offsets[:, 0] * np.cos(heading) + offsets[:, 2] * np.sin(heading),
            offsets[:, 1],
            -offsets[:, 0] * np.sin(heading) + offsets[:, 2] * np.cos(heading),
        ],
        axis=-1,
    )
    return SMPLXMotion(
        poses=poses.reshape(n_frames, -1).astype(np.float32),
        trans=trans.astype(np.float32),
        betas=np.zeros(10, np.float32),
        expressions=blend(keys_face).astype(np.float32),
        fps=fps,
        has_face=True,
    )


def synthesize_dance(n_frames: int, bpm: float = 120.0, seed: int = 0, fps: float = FPS) -> SMPLXMotion:
    """A whole-body dance of `n_frames` frames at `fps` on a beat of `bpm` (beat 0 at t = 0), style by seed."""
    if n_frames < 2:
        raise ValueError(f"n_frames must be >= 2, got {n_frames}")
    style = sorted(STYLES)[seed % len(STYLES)]
    return dance_for(plan_song(seed, n_frames / fps, style=style, bpm=bpm, phase=0.0), n_frames, fps)


# ------------------------------------------------------------------------------------------------ dataset
def write_pair(plan: SongPlan, out_dir: Path) -> dict[str, Path]:
    """Write `music/<name>.wav`, `motion/<name>.npz` (SMPL-X, BEAT2 layout) and `meta/<name>.json` of a song."""
    from data.formats.smplx_npz import save_smplx_npz

    paths = {
        "music": out_dir / "music" / f"{plan.name}.wav",
        "motion": out_dir / "motion" / f"{plan.name}.npz",
        "meta": out_dir / "meta" / f"{plan.name}.json",
    }
    with atomic_path(paths["music"]) as tmp:
        sf.write(tmp, render_music(plan), SR)
    save_smplx_npz(paths["motion"], dance_for(plan))
    write_json(paths["meta"], plan.ground_truth())
    return paths


def build_dataset(out_dir: str | Path, songs: int = 8, seconds: float = 20.0, seed: int = 0) -> list[dict[str, Path]]:
    """`songs` pairs, styles taken in turn (so every style appears once there are four songs)."""
    from tqdm import tqdm

    names = sorted(STYLES)
    plans = [plan_song(seed + i, seconds, style=names[i % len(names)]) for i in range(songs)]
    return [write_pair(p, Path(out_dir)) for p in tqdm(plans, desc="synthetic pairs", unit="song")]


@user_errors_exit
def main(argv: list[str] | None = None) -> list[dict[str, Path]]:
    from data.paths import dataset_dir

    p = argparse.ArgumentParser(
        prog="python -m data.synthetic_dance", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--out", type=Path, help="output folder (default: data/synthetic)")
    p.add_argument("--songs", type=positive_int, default=8, help="number of music-dance pairs")
    p.add_argument("--seconds", type=positive_float, default=20.0, help="length of each song")
    p.add_argument("--seed", type=seed_int, default=0, help="random seed (song i uses seed + i)")
    args = p.parse_args(argv)
    setup_logging()
    out = args.out or dataset_dir("synthetic")
    pairs = build_dataset(out, args.songs, args.seconds, args.seed)
    logger.info("wrote %d pairs to %s (music/, motion/, meta/)", len(pairs), out)
    return pairs


if __name__ == "__main__":
    main()
