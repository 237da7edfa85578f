"""Dances for music files and for a dataset's test split: the library behind `gen_m2m.py`.

`generate_for_files` makes one dance per music file (features computed on the fly as the checkpoint was trained,
any length, window by window: `longform.generate_long`) and writes npz, BVH, glb and mp4 (`export.dance`),
then the folder's viewer page with every dance in it and its music (`export.viewer`); a bad file is skipped and
listed. `generate_test_split` makes `repeat_times` dances for every clip of a processed split,
scores them against the split's ground truth under a published protocol (`evaluation.evaluate`) plus the MMR
matching score, and writes the same files (videos for the first few); its viewer page shows each clip's ground
truth beside its dances.
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from data.loaders import ProcessedData
from data.registry import music_files
from evaluation.evaluate import evaluate_motions
from evaluation.inputs import EvalMotion
from evaluation.metrics.mmr_matching import embedded_matching_scores
from evaluation.metrics.music_beats import track_beats
from evaluation.protocols import PROTOCOLS
from export.dance import Dance, export_dance, rigid_dance
from export.viewer import Lane, Scene, write_viewer
from generator.editing import TRANSITION, Edit, Source, edit_dance, edit_record, prefix_edit, read_source
from generator.music_input import SongMusic, dataset_music, file_music
from models.mask_transformer.longform import generate_long
from models.mask_transformer.sampling import COND_SCALE, RES_COND_SCALE, RES_TEMPERATURE, TEMPERATURE, TOP_K_DROP
from motion.features import recentre_root
from motion.frame import FPS
from utils.audio import MUSIC_SUFFIXES
from utils.batch import BatchReport, list_files, run_batch
from utils.cli import UserError
from utils.output_formats import DANCE_FORMATS, PAGE_FORMAT
from utils.outputs import drop_unfinished, refuse_duplicate_outputs, refuse_overwriting_inputs, split_existing

logger = logging.getLogger(__name__)

GEN_TIME_STEPS = 28  # gen_m2m's unmasking steps (the library's `sampling.TIME_STEPS` is the release's eval 18)


@dataclass
class GenerationOptions:
    """How dances are sampled (defaults: the release's gen_m2m settings) and post-processed.

    Args:
        time_steps, cond_scale, temperature, topkr: masked transformer (28 steps, CFG 4, temperature 1, top 10 %).
        res_cond_scale, res_temperature: residual transformer (CFG 5, temperature 0.8).
        overlap: token times shared by consecutive windows (8 = 32 frames).
        recentre_s: remove the root's slow drift over this many seconds (0: off; see `recentre_root`).
    """

    time_steps: int = GEN_TIME_STEPS
    cond_scale: float = COND_SCALE
    temperature: float = TEMPERATURE
    topkr: float = TOP_K_DROP
    res_cond_scale: float = RES_COND_SCALE
    res_temperature: float = RES_TEMPERATURE
    overlap: int = 8
    recentre_s: float = 0.0

    def __post_init__(self) -> None:
        limits = {
            "time_steps": (self.time_steps, 1, None),
            "cond_scale": (self.cond_scale, 0, None),
            "temperature": (self.temperature, 0, None),
            "topkr": (self.topkr, 0, 1),
            "res_cond_scale": (self.res_cond_scale, 0, None),
            "res_temperature": (self.res_temperature, 0, None),
            "overlap": (self.overlap, 0, None),
            "recentre": (self.recentre_s, 0, None),
        }  # flag: (value, lowest, below this)
        for flag, (value, low, high) in limits.items():
            if not math.isfinite(value) or value < low or (high is not None and value >= high):
                span = f"in [{low}, {high})" if high is not None else f">= {low}"
                raise UserError(f"--{flag} {value} is out of range: it must be {span}")

    def sampling(self) -> dict:
        """The keyword arguments of `sampling.generate`."""
        out = asdict(self)
        del out["overlap"], out["recentre_s"]
        return out


def dance_for_music(mage, song: SongMusic, opts: GenerationOptions, seed: int = 0, progress: bool = True) -> np.ndarray:
    """Dataset features (song.frames, D) of one dance for a song."""
    features, _ = generate_long(mage, song.music, song.clip_source, opts.overlap, seed, progress, **opts.sampling())
    if opts.recentre_s > 0:
        features = recentre_root(features, round(opts.recentre_s * FPS))
    return features


def root_drift(joints: np.ndarray) -> float:
    """Distance (m) on the ground between the root's first and last positions of joints (T, J, 3)."""
    return float(np.linalg.norm(joints[-1, 0, [0, 2]] - joints[0, 0, [0, 2]]))


def music_paths(path: Path) -> list[Path]:
    """The music files `--music` names: a file, or the music files of a folder."""
    if path.is_dir():
        return list_files(path, MUSIC_SUFFIXES)
    if not path.is_file():
        raise UserError(f"{path}: music file or folder not found")
    return [path]


DANCE_SUFFIXES = tuple(f".{f}" for f in DANCE_FORMATS)  # what `export_dance` may write per dance
VIEWER_PAGE = "viewer.html"  # the page of every dance of an output folder
ALL_OUTPUTS = DANCE_FORMATS + (PAGE_FORMAT,)


def music_outputs(files: list[Path], out_dir: Path, overwrite: bool = False) -> tuple[list[Path], list[Path]]:
    """(music files to generate, music files whose dance exists (its npz, written last) and is kept unless
    `overwrite`) for `generate_for_files`. Refused in one line: two music files with one name (`a.wav`, `a.mp3`:
    one dance name) and a dance written over its own music (an mp4)."""
    planned = {f: [out_dir / f"{f.stem}{suffix}" for suffix in DANCE_SUFFIXES] for f in files}
    refuse_duplicate_outputs(planned)
    for f, outs in planned.items():  # another file's name differs from its dances' (else a clash above)
        for out in outs:
            refuse_overwriting_inputs({"the dance": out}, {"--music": f})
    _, kept = split_existing([outs[0] for outs in planned.values()], overwrite)
    return [f for f in files if planned[f][0] not in kept], [f for f in files if planned[f][0] in kept]


def claim_split_folder(out_dir: Path, overwrite: bool = False) -> list[Path]:
    """A split run writes `metrics.json` and every clip's dance: a folder that holds an earlier run's is refused in
    one line unless `overwrite`. Returns the earlier run's files (its report and the dances it lists, else every
    dance: an npz and its bvh/mp4), for the caller to delete once the new run can start, so that no dance of the
    earlier run is left to be scored with the new ones."""
    report = out_dir / "metrics.json"
    try:
        names = set(json.loads(report.read_text()).get("per_sample", {})) if report.is_file() else set()
    except (OSError, ValueError):
        names = set()
    names |= {p.stem for p in out_dir.glob("*.npz")} if out_dir.is_dir() else set()
    dances = [out_dir / f"{n}{s}" for n in sorted(names) for s in DANCE_SUFFIXES if (out_dir / f"{n}{s}").is_file()]
    page = out_dir / VIEWER_PAGE
    earlier = ([report] if report.is_file() else []) + dances + ([page] if page.is_file() else [])
    if earlier and not overwrite:
        shown = ", ".join(p.name for p in earlier[:3]) + (f" and {len(earlier) - 3} more" if len(earlier) > 3 else "")
        raise UserError(f"{out_dir} holds an earlier generation ({shown}): choose another --ext or pass --overwrite")
    return earlier


def write_page(out_dir: Path, scenes: list[Scene], title: str) -> Path | None:
    """Write `out_dir/viewer.html`; a page that cannot be made (a dance no body can make) is a warning, not the end
    of a run whose dances are written. Returns the page, or None."""
    try:
        page = write_viewer(out_dir / VIEWER_PAGE, scenes, title)
    except UserError as err:
        logger.warning("no viewer page: %s", err)
        return None
    logger.info(
        "viewer page: %d song(s), %d dance(s) -> %s (%.1f MB)",
        len(scenes),
        sum(len(s.lanes) for s in scenes),
        page,
        page.stat().st_size / 1e6,
    )
    return page


def edited_scene(npz: Path, joints: np.ndarray, record: str, spans: np.ndarray, music: Path | None) -> Scene:
    """The scene of an edited dance: beside it the source it was made from (when that file can still be read), its
    kept spans shaded on the time bar."""
    info = json.loads(record)
    lanes = [Lane(f"edited ({info['edit']})", joints)]
    try:
        lanes.append(Lane("source", read_source(info["source"]).joints[: len(joints)]))
    except (UserError, OSError, ValueError, KeyError) as err:  # moved, changed: the page is made without it
        logger.info("%s: its source is not shown (%s)", npz.name, err)
    label = f"kept from {Path(info['source']).name}"
    return Scene(npz.stem, lanes, music, spans=[(float(a), float(b)) for a, b in spans], span_label=label)


def folder_page(out_dir: Path, music: dict[str, Path]) -> Path | None:
    """The page of every dance (npz) in `out_dir`, each with the music file of its name in `music` (stem -> file;
    a dance of an earlier run whose music is not given plays without it); an edited dance beside its source, its
    kept spans marked. Rebuilt from the folder at every run."""
    scenes = []
    for npz in drop_unfinished(sorted(out_dir.glob("*.npz"))):
        with np.load(npz, allow_pickle=False) as f:
            if "joints" not in f.files:
                continue  # not one of our dances
            joints = f["joints"]
            record = str(f["edit"]) if "edit" in f.files else None
            spans = f["kept_spans"] if "kept_spans" in f.files else np.zeros((0, 2))
        if record is not None:
            scenes.append(edited_scene(npz, joints, record, spans, music.get(npz.stem)))
        else:
            scenes.append(Scene(npz.stem, [Lane(npz.stem, joints)], music.get(npz.stem)))
    return write_page(out_dir, scenes, out_dir.name) if scenes else None


def generate_for_files(
    mage,
    files: list[Path],
    out_dir: Path,
    opts: GenerationOptions,
    seed: int = 0,
    formats: tuple[str, ...] = DANCE_FORMATS,
) -> BatchReport:
    """One dance per music file into `out_dir` (`<stem>.<format>` for `formats`); bad files are skipped and listed.
    (The folder's page: `folder_page`.)"""

    def one(path: Path) -> dict:
        song = file_music(mage, path)
        dance = rigid_dance(dance_for_music(mage, song, opts, seed))
        paths = export_dance(dance, out_dir, song.name, song.audio, formats)
        logger.info(
            "%s: %d frames (%.1f s), root drift %.2f m -> %s",
            path.name,
            song.frames,
            song.frames / FPS,
            root_drift(dance.joints),
            ", ".join(p.name for p in paths.values()),
        )
        return {"music": str(path), "frames": song.frames, **{k: str(v) for k, v in paths.items()}}

    if len(files) == 1:  # a single file: its problem is the command's one-line error
        return BatchReport(done=[(files[0], one(files[0]))])
    return run_batch(files, one, "music files", out_dir)  # one dance name per file: `music_outputs`


def edit_for_file(
    mage,
    path: Path,
    source: Source,
    edit: Edit | None,
    out_dir: Path,
    opts: GenerationOptions,
    seed: int = 0,
    formats: tuple[str, ...] = DANCE_FORMATS,
    prefix_seconds: float | None = None,
    transition: int = TRANSITION,
) -> dict:
    """The edited dance for the music file `path` (`editing.edit_dance`), written like `generate_for_files`'s with
    the edit's record in the npz. `edit` None: continue `source` (its first `prefix_seconds`, default all) into a
    dance for the whole song."""
    song = file_music(mage, path)
    if edit is None:
        edit = prefix_edit(source, prefix_seconds, song.frames, transition)
    dance, plan = edit_dance(mage, song, source, edit, opts, seed)
    record = edit_record(source, edit, plan)
    paths = export_dance(dance, out_dir, song.name, song.audio, formats, extra=record)
    kept = ", ".join(f"{a:.2f}-{b:.2f} s" for a, b in record["kept_spans"]) or "no whole frames"
    logger.info(
        "%s: %s of %s (%d frames, %.1f s; kept: %s) -> %s",
        path.name,
        edit.describe(),
        source.path.name,
        song.frames,
        song.frames / FPS,
        kept,
        ", ".join(p.name for p in paths.values()),
    )
    return {
        "music": str(path),
        "frames": song.frames,
        "source": str(source.path),
        "edit": edit.describe(),
        "regen": list(plan.regen),
        "kept_spans": record["kept_spans"].tolist(),
        **{k: str(v) for k, v in paths.items()},
    }


def _eval_motion(name: str, dance: Dance, layout: str) -> EvalMotion:
    face = dance.expressions.astype(np.float64) if dance.has_face else None
    return EvalMotion(name, dance.joints.astype(np.float64), float(FPS), face, layout)


def generate_test_split(
    mage,
    data: ProcessedData,
    dataset_root: Path,
    out_dir: Path,
    opts: GenerationOptions,
    protocol: str = "fixed",
    split: str = "test",
    repeat_times: int = 1,
    seed: int = 0,
    videos: int = 3,
    formats: tuple[str, ...] = ALL_OUTPUTS,
) -> dict:
    """Dances for every clip of `split` (`repeat_times` each, named `<clip>` or `<clip>_r<k>`), their files in
    `out_dir` (`formats`; mp4 for the first `videos`), the viewer page (each clip's ground truth beside its dances,
    music beats as the protocol tracks them) and the evaluation report (`evaluate_motions` + MMR_MS / MMR_cos)."""
    ids = data.clip_ids(split)
    files = music_files(data.summary["dataset"], dataset_root)
    pred, gt, audio = [], [], {}
    features = {"": [], "_gt": []}  # dances (and GT) with their music, for the matching score
    musics = {"": [], "_gt": []}
    scenes = []
    for i, clip in enumerate(tqdm(ids, desc=f"{split} clips", unit="clip")):
        song = dataset_music(mage, data, clip, files)
        mmr_music = song.music if song.clip_source is None else song.clip_source
        truth = rigid_dance(data.motion(clip).astype(np.float32))  # scored like the generated dances
        gt.append(_eval_motion(song.name, truth, "ground truth"))
        features["_gt"].append(truth.features)
        musics["_gt"].append(mmr_music)
        if song.audio is not None:
            audio[song.name] = song.audio
        scene = Scene(song.name, [Lane("ground truth", truth.joints)], song.audio)
        for r in range(repeat_times):
            name = song.name if repeat_times == 1 else f"{song.name}_r{r}"
            dance = rigid_dance(dance_for_music(mage, song, opts, seed + r * len(ids) + i, progress=False))
            written = formats if len(pred) < videos else tuple(f for f in formats if f != "mp4")
            export_dance(dance, out_dir, name, song.audio, written)
            scene.lanes.append(Lane("generated" if repeat_times == 1 else f"generated r{r}", dance.joints))
            pred.append(_eval_motion(name, dance, "generated"))
            features[""].append(dance.features)
            musics[""].append(mmr_music)
            if song.audio is not None:
                audio[name] = song.audio
        if song.audio is not None and PAGE_FORMAT in formats:
            scene.beats = track_beats(song.audio, PROTOCOLS[protocol].beat_tracker)  # cached: BAS tracks them too
            scene.beat_source = f"tracked as protocol {protocol} does"
        scenes.append(scene)
    report = evaluate_motions(pred, gt, protocol, audio)
    if PAGE_FORMAT in formats:
        write_page(out_dir, scenes, f"{split} split ({out_dir.name})")
    report["metrics"].update(_matching_scores(mage, features, musics))
    if mage.mmr is None:
        report["skipped"]["MMR_MS"] = "the transformers have no MMR (frame conditioning without --mmr_run)"
    report["counts"]["repeat_times"] = repeat_times
    return report


def _matching_scores(mage, features: dict[str, list], musics: dict[str, list]) -> dict[str, float]:
    """MMR_MS and MMR_cos of the dances ("") and of the ground truth ("_gt") with their music (none without MMR)."""
    if mage.mmr is None:
        return {}
    out = {}
    for suffix in features:
        scores = embedded_matching_scores(mage.mmr, features[suffix], musics[suffix])
        out[f"MMR_MS{suffix}"], out[f"MMR_cos{suffix}"] = scores["MMR_MS"], scores["MMR_cos"]
    return out
