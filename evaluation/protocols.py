"""Evaluation protocols: how each published evaluation turned joints into metric inputs, written down as data.

A protocol converts every input the way its reference code saw its data (frame rate, up axis, joints, crop, root
handling), then computes per-sequence features and scores with the reference's constants:

| | `bailando` | `edge` | `lodge` | `fixed` |
|---|---|---|---|---|
| reference | Bailando `metrics_new.py`, `beat_align_score.py` | EDGE `eval_pfc.py`, POPDG `eval/` | LODGE `metric/` | |
| frame rate | 60 (others linearly interpolated) | 30 | 30 | the input's own |
| frame | Y-up | Z-up (EDGE) | Y-up | Y-up |
| FID joints | SMPL 24 | SMPL 24 | body 22, per-frame root-relative | body 22 |
| FID crop | predictions: first 1200 frames; GT: whole | whole | first 1024 frames, both | whole |
| root | first-frame root subtracted | as given | first-frame root subtracted | first-frame root subtracted |
| kinetic frame time | 1/60 | 1/60 (on 30 fps data) | 1/60 (on 30 fps data) | 1/fps |
| precedence bug | kept | kept | kept | fixed |
| geometric frame time | 1/120 | 1/120 | 1/120 | 1/fps |
| `BAS` | `BAS_bailando` | `BAS_fact` (first 300 frames) | `BAS_bailando` at 30 fps | `BAS_bailando`, sigma 50 ms |
| music beats | Bailando tracker, 60 fps | EDGE baseline beat column | LODGE tracker | tracker, seconds |
| physics | - | PFC | foot-skating ratio | PFC, foot-skating ratio (per-second units) |
| extras | - | - | - | hand and face FID/Div |

Under `edge` the kinetic and geometric features are computed on Z-up joints with the reference's Y-up assumptions,
as POPDG does (internally consistent, physically mislabelled). Beat parameters (sigma, smoothing, FACT order) are
in frames at 60 fps for `bailando`, in the reference's frames for `edge`/`lodge`, and scaled to the input rate
from their 60 fps values (50 ms, 83 ms, 167 ms) under `fixed`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from data.formats.motion import JointsMotion, resample
from evaluation.metrics import beat_align, holistic, physics
from evaluation.metrics.geometric import TIME_PER_FRAME, geometric_features
from evaluation.metrics.joint_sets import as_52, available, select
from evaluation.metrics.kinetic import kinetic_features
from motion.frame import Z_TO_Y_UP

REFERENCE_FPS = 60.0  # the rate the BAS constants were set for (AIST++)
EDGE_FPS = 30.0


@dataclass(frozen=True)
class Protocol:
    """One evaluation protocol (see the module table).

    Args:
        name: `--protocol` value.
        summary: one line for reports: which paper tables it matches.
        fps: the rate the reference's data had (input at other rates is linearly interpolated), None: the input's.
        up_axis: the frame the reference's code received joints in.
        feature_joints: joint set of the kinetic and geometric features (`joint_sets`).
        pred_frames, gt_frames: FID features from the first N frames (None: all).
        root: "first_frame" (subtract the first frame's root everywhere), "per_frame" (then make joints 1.. relative
            to the per-frame root, LODGE) or "none".
        kinetic_frame_time: the kinetic features' frame time (None: 1/fps).
        geometric_time_per_frame: the velocity predicates' frame time (None: 1/fps).
        acceleration_bug: keep the reference's operator-precedence bug.
        fid_eps: the diagonal offset when sqrtm fails (Bailando/LODGE 1e-5, mint/POPDG 1e-6).
        bas: which definition `BAS` reports.
        bas_joints: joint set of the motion beats.
        fact_frames: motion frames `BAS_fact` reads (POPDG: 300).
        truncate_music: `BAS_bailando` over the music beats within the motion only (Bailando's `get_mb(..., length)`;
            LODGE averages over every beat of the song).
        beat_tracker: the music beat tracker (`music_beats.TRACKERS`).
        scale_beat_params: beat sigma / smoothing / FACT order given at 60 fps and scaled to the data's rate.
        physics: the physical metrics reported ("PFC", "FSR").
        holistic: hand and face metrics.
        drop_constant: FID/Div leave out feature dimensions constant over the GT (the published code divides them
            by 1e-10, so any prediction that differs there dominates).
    """

    name: str
    summary: str
    fps: float | None
    up_axis: str
    feature_joints: str
    pred_frames: int | None
    gt_frames: int | None
    root: str
    kinetic_frame_time: float | None
    geometric_time_per_frame: float | None
    acceleration_bug: bool
    fid_eps: float
    bas: str
    bas_joints: str
    fact_frames: int | None
    truncate_music: bool
    beat_tracker: str
    scale_beat_params: bool
    physics: tuple[str, ...]
    holistic: bool
    drop_constant: bool = False

    def rate(self, fps: float) -> float:
        """The frame rate data at `fps` is evaluated at."""
        return self.fps or fps

    def beat_params(self, fps: float) -> tuple[float, float, int]:
        """(sigma, Gaussian smoothing, FACT order), in frames at the evaluated rate."""
        s = self.rate(fps) / REFERENCE_FPS if self.scale_beat_params else 1.0
        return (
            beat_align.SIGMA_FRAMES * s,
            beat_align.BAILANDO_SMOOTHING * s,
            max(1, round(beat_align.FACT_ORDER_60FPS * s)),
        )


PROTOCOLS = {
    p.name: p
    for p in (
        Protocol(
            "bailando",
            "AIST++ tables of Bailando, Bailando++, Lodge (AIST++), Danceba, E3D2, TM2D: FID_k, "
            "FID_g, Div_k, Div_g, BAS",
            fps=60.0,
            up_axis="y",
            feature_joints="smpl24",
            pred_frames=1200,
            gt_frames=None,
            root="first_frame",
            kinetic_frame_time=1 / 60,
            geometric_time_per_frame=TIME_PER_FRAME,
            acceleration_bug=True,
            fid_eps=1e-5,
            bas="BAS_bailando",
            bas_joints="smpl24",
            fact_frames=None,
            truncate_music=True,
            beat_tracker="bailando",
            scale_beat_params=False,
            physics=(),
            holistic=False,
        ),
        Protocol(
            "edge",
            "EDGE's AIST++ table (PFC) and POPDG's FID/Dist/BeatAlign",
            fps=EDGE_FPS,
            up_axis="z",
            feature_joints="smpl24",
            pred_frames=None,
            gt_frames=None,
            root="none",
            kinetic_frame_time=1 / 60,
            geometric_time_per_frame=TIME_PER_FRAME,
            acceleration_bug=True,
            fid_eps=1e-6,
            bas="BAS_fact",
            bas_joints="smpl24",
            fact_frames=300,
            truncate_music=True,
            beat_tracker="edge",
            scale_beat_params=False,
            physics=("PFC",),
            holistic=False,
        ),
        Protocol(
            "lodge",
            "FineDance tables of LODGE and the methods it compares (FID_k, FID_g, FSR, Div, BAS)",
            fps=30.0,
            up_axis="y",
            feature_joints="body22",
            pred_frames=1024,
            gt_frames=1024,
            root="per_frame",
            kinetic_frame_time=1 / 60,
            geometric_time_per_frame=TIME_PER_FRAME,
            acceleration_bug=True,
            fid_eps=1e-5,
            bas="BAS_bailando",
            bas_joints="smplx24",
            fact_frames=None,
            truncate_music=False,
            beat_tracker="lodge",
            scale_beat_params=False,
            physics=("FSR",),
            holistic=False,
        ),
        Protocol(
            "fixed",
            "ours: the same metrics with correct physics at the data's true rate, any up axis, plus hand "
            "and face metrics; not comparable with published tables",
            fps=None,
            up_axis="y",
            feature_joints="body22",
            pred_frames=None,
            gt_frames=None,
            root="first_frame",
            kinetic_frame_time=None,
            geometric_time_per_frame=None,
            acceleration_bug=False,
            fid_eps=1e-5,
            bas="BAS_bailando",
            bas_joints="body22",
            fact_frames=None,
            truncate_music=True,
            beat_tracker="fixed",
            scale_beat_params=True,
            physics=("PFC", "FSR"),
            holistic=True,
            drop_constant=True,
        ),
    )
}


def to_protocol_frame(joints: np.ndarray, fps: float, protocol: Protocol) -> np.ndarray:
    """Y-up joints (T, J, 3) at `fps` -> the protocol's rate (linear interpolation) and up axis. -> (T', J, 3)"""
    rate = protocol.rate(fps)
    if rate != fps:
        joints = resample(JointsMotion(joints=joints, fps=fps), rate).joints
    if protocol.up_axis == "z":
        joints = joints @ Z_TO_Y_UP  # the inverse rotation: Y-up -> EDGE's Z-up
    return np.asarray(joints, dtype=np.float64)


def feature_view(joints: np.ndarray, protocol: Protocol, frames: int | None) -> np.ndarray:
    """The joints the kinetic and geometric features read: joint set, crop, root handling. (T, J, 3) -> (T', J', 3)"""
    p = select(joints, protocol.feature_joints)[:frames].copy()
    if protocol.root in ("first_frame", "per_frame"):
        p -= p[:1, :1]
    if protocol.root == "per_frame":
        p[:, 1:] -= p[:, :1]
    return p


def sequence_features(view: np.ndarray, fps: float, protocol: Protocol) -> tuple[np.ndarray, np.ndarray]:
    """(kinetic (3 J',), geometric (32,)) features of a feature view at the evaluated rate `fps`."""
    k = kinetic_features(
        view, frame_time=protocol.kinetic_frame_time or 1.0 / fps, acceleration_bug=protocol.acceleration_bug
    )
    g = geometric_features(view, time_per_frame=protocol.geometric_time_per_frame or 1.0 / fps)
    return k, g


def motion_beats(joints: np.ndarray, fps: float, protocol: Protocol) -> dict[str, np.ndarray | int]:
    """Motion beats of both definitions from protocol-frame joints, with the frame counts the scores need."""
    _, smoothing, order = protocol.beat_params(fps)
    bas_joints = select(joints, protocol.bas_joints)
    fact_joints = bas_joints[: protocol.fact_frames]
    return {
        "bailando": beat_align.motion_beats_bailando(bas_joints, smoothing),
        "bailando_length": len(joints) - 1,
        "fact": beat_align.motion_beats_fact(fact_joints, order),
    }


def beat_scores(beats: dict, music_frames: np.ndarray, fps: float, protocol: Protocol) -> dict[str, float]:
    """BAS_bailando and BAS_fact of one sequence given its motion beats and music beat frames at the same rate."""
    sigma, _, _ = protocol.beat_params(fps)
    bailando_music = music_frames[music_frames < beats["bailando_length"]] if protocol.truncate_music else music_frames
    return {
        "BAS_bailando": beat_align.bas_bailando(bailando_music, beats["bailando"], sigma),
        "BAS_fact": beat_align.bas_fact(music_frames, beats["fact"], sigma),
    }


def physical_scores(joints: np.ndarray, fps: float, protocol: Protocol) -> dict[str, float]:
    """PFC term and foot-skating ratio of protocol-frame joints (the protocol's subset)."""
    out = {}
    body = select(joints, "body22")
    if "PFC" in protocol.physics:
        # EDGE measures foot speed per 1/30 s frame; `fixed` keeps that unit at any rate, so 30 fps data match edge
        unit = 1.0 if protocol.fps else (fps / EDGE_FPS) ** 2
        out["PFC"] = physics.pfc_sequence(body, fps, protocol.up_axis) * unit * physics.PFC_SCALE
    if "FSR" in protocol.physics:
        left, right = physics.foot_skating_ratio(body, protocol.up_axis, fps=fps)
        out["FSR"] = float(np.nanmean([left, right])) if np.isfinite([left, right]).any() else float("nan")
    return out


def holistic_features(joints: np.ndarray, fps: float, expressions: np.ndarray | None) -> dict[str, np.ndarray]:
    """Hand kinetic features (fingers relative to wrists) and face clip features where the input has them."""
    out = {}
    if available("fingers", joints.shape[1]):
        out["hand"] = holistic.hand_kinetic_features(as_52(joints), fps)
    if expressions is not None:
        out["face"] = holistic.face_features(expressions)
    return out
