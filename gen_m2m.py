"""Generate dances with trained MAGE transformers: for any music file, or for a dataset split with its metrics.

    python gen_m2m.py --gpu_id 0 --ext eval_souldance --name aist_mtrans_rvq5 --vq_name rvq5_souldance \\
        --res_name aist_rtrans_rvq5 --dataset_name souldance --music_dir '/datasets/mmr_souldance_music_feats'
    python gen_m2m.py --name mtrans --res_name rtrans --dataset_name souldance --music song.mp3 [--recentre 10]
    python gen_m2m.py ... --music song.mp3 --ext edits --edit generation/default/song.npz --keep 0-10,20-35
    python gen_m2m.py ... --music song.mp3 --ext edits --prefix my_intro.bvh --prefix_seconds 4

Everything is rebuilt from the checkpoints of `--name` (and `--res_name`): tokenizer, MMR, music feature type and
mode. With `--music FILE|DIR`, each song gets one dance of its whole length (round(30 x seconds) frames); without
it, every clip of the dataset's `--split` gets `--repeat_times` dances, scored under `--protocol` against the
ground truth (FID_k, FID_g, Div, BAS, PFC, hand and face metrics, MMR matching score) into `metrics.json`.
Outputs in `<out_root>/<ext>/` (`--formats` chooses): `<name>.npz` (joints (T,52,3), features, SMPL-X poses
(T,165), trans, expressions (T,100), mocap_frame_rate), `<name>.bvh`, `<name>.glb` (glTF 2.0: skinned skeleton and
body, 30 fps), `<name>.mp4` (with the music; `--no_render` skips it) and `viewer.html`, one offline page that plays
every dance of the folder with its music (split runs: beside the ground truth).
Editing (one `--music` file): `--edit DANCE` with `--keep SPANS` (in-betweening), `--regen PARTS` (new fingers and
face for a kept body, ...) and/or `--variation F`; `--prefix MOTION` continues a motion into a dance for the whole
song. Kept frames come back exactly (`generator.editing`).
Nothing is replaced unasked: a song whose dance exists is kept and listed, a split run into a folder that holds an
earlier one is refused in one line (`--overwrite` replaces them); a music folder whose files share a name, or that
holds one of the outputs, is refused.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from data.audio_extraction.registry import music_feature
from data.loaders import ProcessedData
from data.paths import dataset_dir
from evaluation.evaluate import format_table
from generator.dances import (
    DANCE_SUFFIXES,
    VIEWER_PAGE,
    GenerationOptions,
    claim_split_folder,
    edit_for_file,
    folder_page,
    generate_for_files,
    generate_test_split,
    music_outputs,
    music_paths,
)
from generator.editing import Edit, Source, kept_frames, prefix_edit, read_source
from generator.music_input import music_frames
from models.mask_transformer.loading import MAGEModels, load_mage
from options.generation_options import add_generation_options, chosen_formats, edit_request, generation_options
from utils.atomic import write_json
from utils.cli import inference_device, setup_logging, user_errors_exit
from utils.output_formats import PAGE_FORMAT
from utils.outputs import refuse_overwriting_inputs

logger = logging.getLogger("gen_m2m")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_generation_options(p)
    return p


def music_by_name(files: list) -> dict:
    return {f.stem: f for f in files}


def music_result(done: list[dict], skipped: list, kept: list, viewer) -> dict:
    """What a `--music` run returns: its dances, the files it skipped (with why) and kept, and its page."""
    result = {"done": done, "skipped": [(str(f), r) for f, r in skipped], "kept": [str(f) for f in kept]}
    return result | ({"viewer": str(viewer)} if viewer is not None else {})


@user_errors_exit
def main(argv: list[str] | None = None) -> dict:
    args = build_parser().parse_args(argv)
    setup_logging()
    opts = generation_options(args)
    out = args.out_root / args.ext
    overwrite = args.overwrite
    formats = chosen_formats(args)
    page = PAGE_FORMAT in formats
    source, edit = checked_edit(args, out)
    if args.music is not None:  # the outputs are checked before the models load
        files, kept = music_outputs(music_paths(args.music), out, overwrite)
        if not files:  # every dance exists: nothing to generate (the page is made if it is missing)
            viewer = None if not page or (out / VIEWER_PAGE).exists() else folder_page(out, music_by_name(kept))
            return music_result([], [], kept, viewer)
    else:
        earlier = claim_split_folder(out, overwrite)
    mage = load_models(args)
    if source is not None:
        done = edit_for_file(
            mage, files[0], source, edit, out, opts, args.seed, formats, args.prefix_seconds, args.transition
        )
        viewer = folder_page(out, music_by_name(files + kept)) if page else None
        return music_result([done], [], kept, viewer)
    if args.music is not None:
        report = generate_for_files(mage, files, out, opts, args.seed, formats)
        viewer = folder_page(out, music_by_name(files + kept)) if page else None
        return music_result([r for _, r in report.done], report.skipped, kept, viewer)
    return split_run(args, mage, out, opts, formats, earlier)


def checked_edit(args: argparse.Namespace, out: Path) -> tuple[Source | None, Edit | None]:
    """The source motion and the edit of `--edit` / `--prefix` (None, None without), checked against the song
    before any model loads: a bad file or a span outside the song is one line."""
    request = edit_request(args)  # (the motion, "edit" | "prefix") or None
    source = edit = None
    if request is not None:
        outs = {f"the dance {args.music.stem}{suffix}": out / f"{args.music.stem}{suffix}" for suffix in DANCE_SUFFIXES}
        refuse_overwriting_inputs(outs, {f"--{request[1]}": request[0]})
        source = read_source(request[0])
        frames = music_frames(args.music)
        if request[1] == "edit":
            edit = Edit(args.keep or (), args.regen or (), args.variation or 1.0, args.transition)
            kept_frames(edit, source, frames)
        else:
            prefix_edit(source, args.prefix_seconds, frames)
    return source, edit


def load_models(args: argparse.Namespace) -> MAGEModels:
    """The transformers, their tokenizer and MMR, on the chosen device, with the chosen precision."""
    device = inference_device(args.gpu_id)
    mage = load_mage(
        args.checkpoints_dir,
        args.dataset_name,
        args.name,
        args.res_name,
        args.vq_name,
        args.which_epoch,
        device,
        args.mmr_run,
    ).speed_up(args.mixed_precision, args.compile)
    if args.music_dir is not None:
        logger.info(
            "--music_dir %s: not read; each window's music is embedded with the checkpoint's MMR (%s)",
            args.music_dir,
            mage.mmr.source if mage.mmr is not None else "none",
        )
    return mage


def split_run(
    args: argparse.Namespace,
    mage: MAGEModels,
    out: Path,
    opts: GenerationOptions,
    formats: tuple[str, ...],
    earlier: list[Path],
) -> dict:
    """Dances for the dataset split's music, scored against its ground truth; the report, written to metrics.json."""
    page = PAGE_FORMAT in formats
    if earlier:  # the models loaded: the earlier split run (its report and dances) can go
        logger.warning("--overwrite: deleting the earlier generation in %s (%d files)", out, len(earlier))
        for path in earlier:
            path.unlink(missing_ok=True)
    root = dataset_dir(args.dataset_name, args.data_root)
    music_feature(mage.music["music_type"])  # a checkpoint of an unknown feature type: one line
    videos = args.videos if "mp4" in formats else 0
    report = generate_test_split(
        mage,
        ProcessedData(root),
        root,
        out,
        opts,
        args.protocol,
        args.split,
        args.repeat_times,
        args.seed,
        videos,
        formats,
    )
    report["runs"] = {
        "name": args.name,
        "res_name": args.res_name,
        "tokenizer": mage.base_ckpt["tokenizer"]["run"],
        "which_epoch": args.which_epoch,
        "split": args.split,
    }
    report["sampling"] = vars(opts) | {"seed": args.seed}
    if page and (out / VIEWER_PAGE).is_file():
        report["viewer"] = str(out / VIEWER_PAGE)
    write_json(out / "metrics.json", report)
    logger.info("%s\nmetrics -> %s", format_table(report), out / "metrics.json")
    return report


if __name__ == "__main__":
    main()
