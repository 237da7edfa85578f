"""Editing dances: in-betweening, part regeneration, continuation of a given motion, variations.

An edit starts from a source motion (any file the readers accept, or one of our dance npz) and a song. The source is
tokenized with the transformers' tokenizer; the tokens to keep are given to long-form generation
(`longform.generate_long`), which keeps given tokens in every quantizer layer and generates the others for the
music around them; the decoded dance is then spliced into the source (`motion.splice`), so that what is kept
comes back exactly (kept frames and joints bit for bit) and the generated motion joins it without a jump.

- `keep` spans (seconds): those frames are the source's; the rest is generated (in-betweening, regenerating a span).
- `regen` parts (`hands`, `face`, `body` of an HRVQ tokenizer): the other parts are kept at every source frame. With
  the body kept, the generated fingers hang from the source's wrists (body joints bit for bit); with the body
  regenerated, the fingers keep the source's rotations relative to their wrists (their positions follow the new
  body, so they cannot be the source's) and the face keeps its expressions. A one-part tokenizer (vq, rvq) has no
  separate hand or face tokens: regenerating a part is refused.
- `variation` f: of the token times that would otherwise be generated, only the fraction f is re-sampled, the rest
  keep the source's tokens (f = 1, the default: all of them); a variation alone keeps tokens, not frames, so the
  output is the decoded mix, near the source's reconstruction where its tokens were kept.
- a prefix: `keep=((0, seconds),)` of a motion made for another song (`prefix_edit`): the dance continues it.

A source shorter than the song is kept where it exists and the rest is generated; a longer one is cut to the song.
"""

from __future__ import annotations

import json
import logging
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from data.formats import load_motion
from data.formats.containers import read_container
from data.motion_pipeline import features_of
from export.dance import Dance, rigid_dance
from generator.music_input import SongMusic
from models.mask_transformer.longform import generate_long
from motion.features import recentre_root
from motion.frame import FPS
from motion.kinematics import forward_kinematics, inverse_kinematics
from motion.layout import FACE_DIM
from motion.skeleton import N_BODY_JOINTS, N_HAND_JOINTS, N_JOINTS, WRISTS, Skeleton, default_skeleton
from motion.splice import RATE_FRAMES, Keep, splice
from utils.cli import UserError

logger = logging.getLogger(__name__)

TRANSITION = 8  # frames a junction's mismatch fades out over (chosen by measurement: docs/benchmarks.md, Editing)
PART_JOINTS = {"body": np.arange(N_BODY_JOINTS), "hands": np.arange(N_BODY_JOINTS, N_JOINTS)}
_SPAN = re.compile(r"^\s*([0-9]*\.?[0-9]+)\s*-\s*([0-9]*\.?[0-9]+)\s*$")


def parse_spans(text: str) -> tuple[tuple[float, float], ...]:
    """`--keep` text "0-10,20-35" (seconds) -> ((0, 10), (20, 35)), sorted; overlapping or touching spans merge.
    One-line `UserError` for anything else (a span that ends before it starts, a negative or missing number)."""
    spans = []
    for item in text.split(","):
        m = _SPAN.match(item)
        if not m:
            raise UserError(f"--keep {text!r}: {item.strip()!r} is not a span START-END in seconds (e.g. 0-10,20-35)")
        a, b = float(m.group(1)), float(m.group(2))
        if not b > a:
            raise UserError(f"--keep {text!r}: the span {item.strip()} ends before it starts")
        spans.append((a, b))
    merged: list[list[float]] = []
    for a, b in sorted(spans):
        if merged and a <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], b)
        else:
            merged.append([a, b])
    return tuple((a, b) for a, b in merged)


def parse_parts(text: str) -> tuple[str, ...]:
    """`--regen` text "hands,face" -> ("hands", "face"); unknown names are one line."""
    parts = tuple(dict.fromkeys(p.strip() for p in text.split(",") if p.strip()))
    bad = [p for p in parts if p not in ("body", "hands", "face")]
    if bad or not parts:
        raise UserError(f"--regen {text!r}: name parts from body, hands, face (e.g. hands,face)")
    return parts


@dataclass
class Edit:
    """What to keep of a source and what to generate.

    Args:
        keep: spans (seconds) taken whole from the source.
        regen: parts generated everywhere (the others kept at every source frame); empty: none kept so.
        variation: fraction of the token times to generate that are re-sampled (the rest keep the source's tokens).
        transition: frames over which each junction's mismatch fades out.
        continues: the source is a prefix to continue (`prefix_edit`), not a dance of this song.
    """

    keep: tuple[tuple[float, float], ...] = ()
    regen: tuple[str, ...] = ()
    variation: float = 1.0
    transition: int = TRANSITION
    continues: bool = False

    def __post_init__(self) -> None:
        if not 0 < self.variation <= 1 or not math.isfinite(self.variation):
            raise UserError(f"--variation {self.variation}: it must be in (0, 1] (the fraction re-sampled)")
        if self.transition < 0:
            raise UserError(f"--transition {self.transition}: it must be >= 0 frames")
        if not self.keep and not self.regen and self.variation == 1:
            raise UserError(
                "an edit that keeps nothing (no --keep, no --regen, --variation 1) is a new dance: leave --edit out"
            )

    def describe(self) -> str:
        if self.continues:
            return f"continuing its first {self.keep[0][1]:g} s"
        out = []
        if self.keep:
            out.append("keep " + ",".join(f"{a:g}-{b:g}" for a, b in self.keep))
        if self.regen:
            out.append("regen " + ",".join(self.regen))
        if self.variation < 1:
            out.append(f"variation {self.variation:g}")
        return "; ".join(out)


@dataclass
class Source:
    """A motion to edit or continue.

    Args:
        joints: (T, 52, 3) float32 Y-up metres, 30 fps (fingers at rest when the file has body joints only).
        face: (T, 100) float32 expressions, or None when the file has no face.
        path: the file.
        fingers: whether the file has finger joints.
    """

    joints: np.ndarray
    face: np.ndarray | None
    path: Path
    fingers: bool = True
    frames: int = field(init=False)

    def __post_init__(self) -> None:
        self.frames = len(self.joints)


def with_rest_fingers(body: np.ndarray) -> np.ndarray:
    """52 joints (T, 52, 3) of body joints (T, 22, 3): the body as given, the fingers in their rest pose on the
    wrists (each wrist turned with its forearm)."""
    full = default_skeleton()
    sub = Skeleton(full.rest_joints[:N_BODY_JOINTS], full.parents[:N_BODY_JOINTS], full.names[:N_BODY_JOINTS])
    skeleton = full.with_bone_lengths(np.concatenate([sub.fitted_to(body).bone_lengths, full.bone_lengths[22:]]))
    local, _ = inverse_kinematics(body, Skeleton(skeleton.rest_joints[:22], sub.parents, sub.names))
    rotations = np.broadcast_to(np.eye(3), (len(body), N_JOINTS, 3, 3)).copy()
    rotations[:, :N_BODY_JOINTS] = local
    joints, _ = forward_kinematics(rotations, body[:, 0].astype(np.float64), skeleton)
    wrist = np.repeat(WRISTS, N_HAND_JOINTS // 2)  # the wrist each finger joint hangs from
    out = joints.astype(np.float32)
    out[:, N_BODY_JOINTS:] += (body[:, wrist] - joints[:, wrist]).astype(np.float32)
    out[:, :N_BODY_JOINTS] = body
    return out


def read_source(path: str | Path) -> Source:
    """The motion of a file to edit: one of our dance npz (its joints and face as written) or any file the readers
    accept (`data.formats.load_motion`: SMPL-X npz, AIST++ pkl, FineDance npy, BVH, ...). One line when unreadable."""
    path = Path(path)
    if path.suffix.lower() == ".npz" and path.is_file():
        arrays = read_container(path)
        joints = arrays.get("joints")
        if joints is not None and np.ndim(joints) == 3 and np.shape(joints)[1:] == (N_JOINTS, 3) and "poses" in arrays:
            feats = arrays.get("features")
            face = arrays["expressions"] if feats is not None and np.shape(feats)[-1] > N_JOINTS * 12 else None
            joints = np.asarray(joints, np.float32)
            if not np.isfinite(joints).all():
                raise UserError(f"{path}: its joints contain NaN or Inf")
            return Source(joints, None if face is None else np.asarray(face, np.float32), path)
    m = load_motion(path)
    if m.joints.shape[1] == N_BODY_JOINTS:
        return Source(with_rest_fingers(m.joints), m.face, path, fingers=False)
    return Source(m.joints.astype(np.float32), m.face, path)


def prefix_edit(source: Source, seconds: float | None, song_frames: int, transition: int = TRANSITION) -> Edit:
    """The edit that continues the first `seconds` (default: all) of `source` into a dance of `song_frames`."""
    length = source.frames / FPS
    seconds = length if seconds is None else seconds
    if not 1 / FPS <= seconds <= length + 1e-9:
        raise UserError(
            f"--prefix_seconds {seconds:g}: {source.path.name} is {length:.2f} s long (give "
            f"1/{FPS} <= S <= {length:.2f})"
        )
    if round(seconds * FPS) >= song_frames:
        raise UserError(
            f"the prefix ({seconds:g} s) is as long as the song ({song_frames / FPS:.2f} s): nothing to "
            "continue (give a shorter --prefix_seconds)"
        )
    return Edit(keep=((0.0, seconds),), transition=transition, continues=True)


@dataclass
class Plan:
    """An edit laid out on a song: `given` (P, T') bool token positions taken from the source (every layer),
    `keep` (frames and joints spliced back), `frames` the song's length and the notes for the log."""

    given: np.ndarray
    keep: Keep
    frames: int
    regen: tuple[str, ...]
    notes: list[str]


def _regenerated(
    parts: tuple[str, ...], has_face: bool, source: Source, edit: Edit, notes: list[str]
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(the parts generated everywhere, the parts the source lacks) of `edit`, checked; notes what is added."""
    regen = tuple(edit.regen)
    if regen and parts == ("all",):
        raise UserError(
            "this model's tokenizer has one token stream for the whole body (vq/rvq): regenerating "
            "parts needs per-part tokens (train_vq.py --vq_type hrvq)"
        )
    missing = [p for p in regen if p not in parts]
    if missing:
        raise UserError(
            f"--regen {','.join(regen)}: this model has no {' or '.join(missing)} part (parts: {', '.join(parts)})"
        )
    lacking = tuple(
        p
        for p, missing in (("hands", not source.fingers), ("face", has_face and source.face is None))
        if missing and p in parts
    )
    for p in lacking if regen else ():
        if p not in regen:
            regen += (p,)
            notes.append(f"{source.path.name} has no {'fingers' if p == 'hands' else 'face'}: generated too")
    if regen and set(regen) >= set(parts) and not edit.keep and edit.variation == 1:
        what = f" ({source.path.name} has no {' or '.join(lacking)} to keep)" if lacking else ""
        raise UserError(
            f"--regen {','.join(edit.regen)} leaves nothing to keep{what}: that is a new dance (leave --edit out)"
        )
    return regen, lacking


def kept_frames(edit: Edit, source: Source, frames: int) -> np.ndarray:
    """(frames,) bool: the frames `edit.keep` takes whole from the source; spans outside the song or the source, or
    shorter than a frame, are one line."""
    song_s = frames / FPS
    kept = np.zeros(frames, dtype=bool)
    for a, b in edit.keep:
        if round(b * FPS) <= round(a * FPS):
            raise UserError(f"--keep {a:g}-{b:g}: shorter than a frame (1/{FPS} s)")
        if b > song_s + 1e-9:
            raise UserError(f"--keep {a:g}-{b:g}: the song is {song_s:.2f} s long")
        if b > source.frames / FPS + 1e-9:
            raise UserError(f"--keep {a:g}-{b:g}: {source.path.name} is {source.frames / FPS:.2f} s long")
        kept[round(a * FPS) : round(b * FPS)] = True
    return kept


def _keep_masks(whole: np.ndarray, exists: np.ndarray, kept_parts: list[str], has_face: bool) -> Keep:
    """What the splice takes from the source: whole kept frames; the kept parts' joints where the source exists
    (positions when the body is kept, rotations relative to their parents only when it is not: fingers under a new
    body); the face on kept frames or everywhere when the face is kept and the source has one."""
    positions = np.repeat(whole[:, None], N_JOINTS, axis=1)
    rotations = positions.copy()
    for p in kept_parts:
        if p not in PART_JOINTS:
            continue
        joints = exists[:, None] & np.isin(np.arange(N_JOINTS), PART_JOINTS[p])[None]
        rotations |= joints
        if "body" in kept_parts:
            positions |= joints
    face = (whole | (exists & ("face" in kept_parts))) & has_face
    return Keep(positions, rotations | positions, face)


def plan_edit(
    parts: tuple[str, ...], has_face: bool, source: Source, edit: Edit, frames: int, down: int, seed: int = 0
) -> Plan:
    """Lay `edit` of `source` out on a song of `frames` frames for a tokenizer of `parts` (body | hands | face, or
    one part "all") with `down` frames per token time. One line for what cannot be done."""
    notes: list[str] = []
    whole = kept_frames(edit, source, frames)  # frames taken whole
    regen, lacking = _regenerated(parts, has_face, source, edit, notes)
    kept_parts = [p for p in parts if regen and p not in regen]
    n_src = min(source.frames, frames)
    exists = np.arange(frames) < n_src
    whole &= exists
    if not source.fingers and whole.any() and "hands" in parts:
        notes.append(f"{source.path.name} has no fingers: the kept spans keep its body, their fingers rest")
    # tokens: a position is given when its frames all exist and are kept (whole frames, or its part)
    total = math.ceil(frames / down)
    tok_frames = np.minimum(np.arange(total * down), frames - 1).reshape(total, down)
    tok_exists = (tok_frames < n_src).all(-1)  # the song's last token: its frames in the song
    given = np.repeat((whole[tok_frames].all(-1) & tok_exists)[None], len(parts), axis=0)
    given[[p in kept_parts for p in parts]] |= tok_exists
    if edit.variation < 1:  # keep the source's tokens at all but the fraction of the free token times
        free = np.flatnonzero(tok_exists & ~given.all(0))
        stay = np.random.default_rng(seed).choice(
            free, size=len(free) - round(edit.variation * len(free)), replace=False
        )
        has = np.array([p not in lacking for p in parts])
        given[np.ix_(has, stay)] = True  # parts the source lacks (rest fingers, no face) are always re-sampled
    keep = _keep_masks(whole, exists, kept_parts, source.face is not None)
    return Plan(given, keep, frames, regen, notes)


def source_tokens(mage, source: Source, frames: int) -> torch.Tensor:
    """The tokenizer's tokens (P, T'src, Q) of the source's first min(its length, `frames`) frames (its features as
    the datasets compute them: retargeted to the default skeleton)."""
    layout = mage.vq.config.layout
    n = min(source.frames, frames)
    joints = source.joints[:n]
    if n < 2:
        raise UserError(f"{source.path.name}: too short to edit ({n} frame)")
    feats = features_of(joints, "default", source.path)  # (n-1, 623|263)
    if layout.face_dim:
        face = source.face[: n - 1] if source.face is not None else np.zeros((n - 1, FACE_DIM), np.float32)
        feats = layout.from_flat(feats, face)
    feats = np.concatenate([feats, feats[-1:]])  # rows follow the joint frames; the last repeats
    down = mage.vq.config.downsampling
    t = math.ceil(n / down)
    feats = np.concatenate([feats, np.repeat(feats[-1:], t * down - n, axis=0)]).astype(np.float32)
    device = mage.vq_mean.device
    x = (torch.from_numpy(feats).to(device)[None] - mage.vq_mean) / mage.vq_std
    parts = len(mage.vq.parts)
    return mage.vq.encode(x)[0].reshape(parts, t, -1)


def given_tokens(source: torch.Tensor, given: np.ndarray, residual: bool = True) -> torch.Tensor:
    """The tokens (P, T', Q) long-form sampling keeps: the source's (P, T'src, Q) where `given` (P, T'), -1 elsewhere;
    without a residual model, their base layer alone (the generated positions decode theirs alone too)."""
    tokens = torch.full((*given.shape, source.shape[-1]), -1, dtype=torch.long)
    width = min(source.shape[1], given.shape[1])
    tokens[:, :width] = torch.where(torch.from_numpy(given[:, :width])[..., None], source[:, :width], -1)
    if not residual:
        tokens[..., 1:] = -1
    return tokens


def generate_edit(
    mage, song: SongMusic, source: Source, plan: Plan, opts, seed: int = 0, progress: bool = True
) -> Dance:
    """The dance generated for `song` around the source tokens `plan.given` keeps (on the default skeleton, where
    the decoder puts it; `splice_edit` puts it on the source). `opts`: `generation.GenerationOptions`."""
    tokens = given_tokens(source_tokens(mage, source, song.frames).cpu(), plan.given, mage.res is not None)
    features, _ = generate_long(
        mage,
        song.music,
        song.clip_source,
        opts.overlap,
        seed,
        progress,
        given=tokens.to(mage.music_mean.device),
        **opts.sampling(),
    )
    if opts.recentre_s > 0:
        if plan.keep.rotations[:, 0].any():
            logger.info("--recentre is not applied: the root follows the kept frames")
        else:
            features = recentre_root(features, round(opts.recentre_s * FPS))
    return rigid_dance(features)


def _padded(x: np.ndarray, n: int) -> np.ndarray:
    """The first `n` rows of x, the last row repeated when it has fewer."""
    x = x[:n]
    return np.concatenate([x, np.repeat(x[-1:], n - len(x), axis=0)]) if len(x) < n else x


def splice_edit(
    source: Source, generated: Dance, plan: Plan, transition: int = TRANSITION, rate_frames: int = RATE_FRAMES
) -> Dance:
    """The edited dance: `generated` spliced into `source` as `plan.keep` says (`motion.splice.splice`)."""
    n = plan.frames
    face = _padded(source.face, n) if source.face is not None else None
    out = splice(
        _padded(source.joints, n),
        generated.joints,
        plan.keep,
        transition,
        face,
        generated.expressions if generated.has_face else None,
        rate_frames,
    )
    expressions = out.expressions if generated.has_face else generated.expressions
    trans = (out.root - out.skeleton.rest_joints[0]).astype(np.float32)
    return Dance(generated.features, out.joints, out.rotations, trans, expressions, out.skeleton)


def edit_dance(
    mage, song: SongMusic, source: Source, edit: Edit, opts, seed: int = 0, progress: bool = True
) -> tuple[Dance, Plan]:
    """The dance for `song` that `edit` makes of `source` (see the module docstring), on the source's skeleton, and
    its plan. `opts`: `generation.GenerationOptions` (sampling, overlap, recentre)."""
    layout = mage.vq.config.layout
    if layout.n_joints != N_JOINTS:
        raise UserError(f"editing needs a model of the 52-joint body and hands ({layout.dim}-d features here)")
    plan = plan_edit(mage.vq.parts, layout.face_dim > 0, source, edit, song.frames, mage.base.config.downsampling, seed)
    for note in plan.notes:
        logger.info(note)
    generated = generate_edit(mage, song, source, plan, opts, seed, progress)
    return splice_edit(source, generated, plan, edit.transition), plan


def edit_record(source: Source, edit: Edit, plan: Plan) -> dict[str, np.ndarray]:
    """What an edited dance's npz stores about its edit: `kept_spans` (K, 2) seconds taken whole from the source,
    `edit` (JSON: the source file, the edit, the parts regenerated) for the viewer page and for people."""
    kept = plan.keep.positions.all(1)
    edges = np.flatnonzero(np.diff(np.concatenate([[0], kept.astype(np.int8), [0]])))
    spans = edges.reshape(-1, 2) / FPS
    info = {
        "source": str(source.path.resolve()),
        "edit": edit.describe(),
        "regen": list(plan.regen),
        "variation": edit.variation,
        "transition": edit.transition,
    }
    return {"kept_spans": spans.astype(np.float64), "edit": np.array(json.dumps(info))}
