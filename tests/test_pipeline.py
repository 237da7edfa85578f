"""The published README's commands chained end to end on the synthetic dataset (tiny sizes, CPU):
create_dataset -> train_vq -> train_mmr -> mmr_music_feat256 -> train_m2m -> train_res -> gen_m2m -> eval_vq, each as
the seed writes it (plus `--dataset_name synthetic` and tiny-size flags), in a fresh working folder."""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import imageio_ffmpeg
import numpy as np
import pytest
import soundfile as sf

from data.loaders import ProcessedData
from data.synthetic_dance import SR, plan_song, render_music
from evaluation.evaluate import EvalRequest, evaluate
from evaluation.metrics.continuity import border_frames, continuity_report, mean_speed
from export.viewer.page import read_page_meta
from generator.dances import GenerationOptions
from MMR.embedder import load_mmr
from models.mask_transformer.loading import load_m2m, load_mage, load_res
from models.mask_transformer.longform import song_window_starts
from models.vq.loading import load_vq
from motion.bvh import read_bvh
from motion.skeleton import JOINT_NAMES
from tests.conftest import REPO, realdata, streams
from utils.checkpoint import load_checkpoint

TINY_VQ = [
    "--window_size",
    "32",
    "--nb_code",
    "64",
    "--code_dim",
    "32",
    "--width",
    "32",
    "--depth",
    "1",
    "--warm_up_iter",
    "10",
    "--max_steps",
    "300",
    "--save_latest",
    "0",
    "--batch_size",
    "32",
    "--lr",
    "1e-3",
]
TINY_MMR = [
    "trainer.gpu_id=-1",
    "trainer.max_steps=40",
    "trainer.batch_size=16",
    "model.layers=1",
    "model.latent=32",
    "model.ff=64",
]
TINY_TRANS = [
    "--batch_size",
    "16",
    "--latent_dim",
    "64",
    "--ff_size",
    "128",
    "--n_layers",
    "2",
    "--warm_up_iter",
    "10",
    "--max_steps",
    "400",
    "--save_latest",
    "0",
    "--lr",
    "1e-3",
    "--eval_windows",
    "4",
]
SONGS = 8


def run(cmd: list[str], cwd: Path, env: dict) -> subprocess.CompletedProcess:
    res = subprocess.run([sys.executable, *cmd], cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, f"{' '.join(cmd)}\n{res.stderr[-3000:]}"
    return res


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory) -> dict:
    """A fresh working folder where the seed's commands ran in order; their durations."""
    work = tmp_path_factory.mktemp("pipeline")
    (work / "MMR").mkdir()
    env = {**os.environ, "DANCE_DATA_DIR": str(work / "data")}
    steps = {
        "create_dataset": (
            ["create_dataset.py", "--extract-baseline", "--dataset_name", "synthetic", "--synthetic_songs", str(SONGS)],
            work,
        ),
        "train_vq": (
            [
                *"train_vq.py --vq_type hrvq --name hvq5 --vq_name hrvq5_synthetic --gpu_id 0 --dataset_name "
                "synthetic --batch_size 256 --num_quantizers 6 --max_epoch 30 --quantize_dropout_prob 0.2 "
                "--gamma 0.05".split(),
                *TINY_VQ,
            ],
            work,
        ),
        "train_mmr": (
            [str(REPO / "MMR" / "train_mmr.py"), "model=mmr", "data=synthetic", "run_dir=outputs/mmr_res", *TINY_MMR],
            work / "MMR",
        ),
        "mmr_music_feat256": (
            [str(REPO / "MMR" / "mmr_music_feat256.py"), "--gpu_id", "-1", "--which", "latest"],
            work / "MMR",
        ),
        "train_m2m": (
            [
                *"train_m2m.py --name mtrans_hrvq5 --gpu_id 0 --dataset_name synthetic --vq_name "
                "hrvq5_synthetic --latent_dim 256 --music_dir /MMR/datasets/mmr_music_feats".split(),
                *TINY_TRANS,
            ],
            work,
        ),
        "train_res": (
            [
                *"train_res.py --name res_hrvq5 --gpu_id 0 --dataset_name synthetic --vq_name hrvq5_synthetic "
                "--cond_drop_prob 0.1 --lr 2e-4 --gamma 0.1 --latent_dim 256 --n_heads 6 --mmr_loss "
                "--hrvq".split(),
                *TINY_TRANS,
            ],
            work,
        ),
        "gen_m2m": (
            "gen_m2m.py --gpu_id 0 --ext eval_synthetic --name mtrans_hrvq5 --vq_name hrvq5_synthetic "
            "--res_name res_hrvq5 --dataset_name synthetic --music_dir /datasets/mmr_souldance_music_feats "
            "--videos 1".split(),
            work,
        ),
        "eval_vq": (
            "eval_vq.py --gpu_id 0 --name rvq_nq6_dc512_nc512_noshare_qdp0.2 --dataset_name synthetic --ext "
            "hrvq5_synthetic --videos 0".split(),
            work,
        ),
    }
    seconds = {}
    for name, (cmd, cwd) in steps.items():
        script = cmd[0] if cmd[0].startswith("/") else str(REPO / cmd[0])
        t0 = time.perf_counter()
        run([script, *cmd[1:]], cwd, env)
        seconds[name] = time.perf_counter() - t0
    print("pipeline seconds:", json.dumps({k: round(v, 1) for k, v in seconds.items()}))
    return {
        "work": work,
        "env": env,
        "seconds": seconds,
        "ckpts": work / "checkpoints",
        "data": ProcessedData(work / "data" / "synthetic"),
    }


def test_the_seed_commands_chain_and_every_checkpoint_reloads(pipeline):
    ckpts, data, work = pipeline["ckpts"], pipeline["data"], pipeline["work"]
    vq, _ = load_vq(ckpts, "synthetic", "hvq5")  # by the alias train_vq.py records
    assert vq.config.vq_type == "hrvq" and vq.config.num_quantizers == 6
    mmr = load_mmr(work / "MMR" / "outputs" / "mmr_res", "latest")
    assert mmr.music_type == "baseline" and (data.root / "music" / "mmr").is_dir()
    base, ckpt = load_m2m(ckpts, "synthetic", "mtrans_hrvq5")
    res, res_ckpt = load_res(ckpts, "synthetic", "res_hrvq5")
    assert ckpt["tokenizer"]["run"] == "hrvq5_synthetic" and res_ckpt["mmr_loss"]["weight"] > 0
    assert base.config.latent_dim == 64 and res.config.n_heads == 6
    mage = load_mage(ckpts, "synthetic", "mtrans_hrvq5", "res_hrvq5", vq_name="hrvq5_synthetic")
    assert mage.mmr is not None and mage.res is not None
    report = json.loads(
        (ckpts / "synthetic" / "hrvq5_synthetic" / "eval" / "hrvq5_synthetic" / "metrics.json").read_text()
    )
    assert report["vq_type"] == "hrvq" and np.isfinite(report["metrics"]["mpjpe_all"])


def test_split_generation_writes_dances_and_metrics(pipeline):
    out, data = pipeline["work"] / "generation" / "eval_synthetic", pipeline["data"]
    report = json.loads((out / "metrics.json").read_text())
    test_clips = data.clip_ids("test")
    assert report["protocol"] == "fixed" and report["counts"]["pred"] == len(test_clips) == report["counts"]["gt"]
    m = report["metrics"]
    for key in ("BAS", "PFC", "MPJPE_all", "MMR_MS", "MMR_MS_gt", "MMR_cos"):
        assert np.isfinite(m[key]), key
    assert report["sampling"]["time_steps"] == 28 and report["sampling"]["res_cond_scale"] == 5.0
    for clip in test_clips:
        name = data.clips[clip]["name"]
        with np.load(out / f"{name}.npz") as f:
            joints, poses = f["joints"], f["poses"]
            assert joints.shape == (len(data.motion(clip)), 52, 3) and np.isfinite(joints).all()
            assert poses.shape == (len(joints), 165) and f["expressions"].shape == (len(joints), 100)
            assert f["trans"].shape == (len(joints), 3) and int(f["mocap_frame_rate"]) == 30
            assert f["features"].shape == (len(joints), 723)
        bvh = read_bvh(out / f"{name}.bvh")
        back = bvh.positions[:, bvh.index(JOINT_NAMES)]  # metres, our joint order
        assert np.abs(back - joints).max() < 5e-5
        assert (out / f"{name}.glb").read_bytes()[:4] == b"glTF"
    page = read_page_meta(out / "viewer.html")  # each clip: its ground truth beside its dance, with the music
    names = [data.clips[clip]["name"] for clip in test_clips]
    assert [s["name"] for s in page["scenes"]] == names
    assert all([lane["name"] for lane in s["lanes"]] == ["ground truth", "generated"] for s in page["scenes"])
    assert all(s["audio"] is not None and s["beats"] for s in page["scenes"])
    again = evaluate(EvalRequest(pred_dir=out, protocol="fixed"))  # eval_dance.py reads the folder (npz, not bvh)
    assert again["counts"]["pred"] == len(test_clips) and again["metrics"]["PFC"] == pytest.approx(m["PFC"])
    videos = sorted(out.glob("*.mp4"))
    assert len(videos) == 1  # --videos 1
    info = streams(videos[0])
    assert "Video: h264" in info and "Audio: aac" in info
    frames, secs = imageio_ffmpeg.count_frames_and_secs(str(videos[0]))
    assert frames == len(np.load(out / f"{videos[0].stem}.npz")["joints"]) and abs(secs - frames / 30) < 0.1


def write_song(path: Path, seconds: float, seed: int = 1234) -> Path:
    plan = plan_song(seed, seconds)
    sf.write(path, render_music(plan), SR)
    return path


@pytest.fixture(scope="module")
def training_speed(pipeline) -> float:
    """Mean joint speed (m/s) of the training dances."""
    data = pipeline["data"]
    return mean_speed([data.motion(i) for i in data.clip_ids("train")])


@pytest.mark.parametrize("song", ["synthetic_3min", "karissa_hobbs_lets_go_fishin"])
def test_long_songs_give_one_continuous_dance(pipeline, training_speed, tmp_path, song):
    if song == "synthetic_3min":
        music = write_song(tmp_path / "three_minutes.wav", 180.0)
    else:
        music = realdata("librosa_data/karissa_hobbs_lets_go_fishin.ogg")
    info = sf.info(music)
    cmd = [
        str(REPO / "gen_m2m.py"),
        "--gpu_id",
        "-1",
        "--name",
        "mtrans_hrvq5",
        "--res_name",
        "res_hrvq5",
        "--dataset_name",
        "synthetic",
        "--ext",
        "long",
        "--music",
        str(music),
        "--no_render",
    ]
    run(cmd, pipeline["work"], pipeline["env"])
    out = pipeline["work"] / "generation" / "long"
    with np.load(out / f"{music.stem}.npz") as f:
        joints = f["joints"]
    assert len(joints) == round(30 * info.frames / info.samplerate) and np.isfinite(joints).all()
    assert not (out / f"{music.stem}.mp4").exists()
    mage_cfg = load_checkpoint(pipeline["ckpts"] / "synthetic" / "mtrans_hrvq5" / "model" / "latest.tar")["transformer"]
    down, width = mage_cfg["downsampling"], mage_cfg["times"]
    starts = song_window_starts(len(joints), width, GenerationOptions().overlap, down)
    rep = continuity_report(joints, border_frames(starts, width, down), training_speed)
    print(song, json.dumps({k: round(v, 3) for k, v in rep.items()}))
    assert len(starts) > 20
    assert rep["speed_inside_p5"] <= rep["speed_border_mean"] <= rep["speed_inside_p95"]
    assert rep["speed_border_p95"] <= rep["speed_inside_p99"]  # no spikes where windows meet
    assert 0.5 <= rep["mean_speed_ratio"] <= 2.0
    assert rep["min_stretch_ratio"] >= 0.25
    assert np.isfinite(rep["root_drift_m"])


def gen(pipeline, *args: str) -> dict:
    """`gen_m2m.main` in this process, in the pipeline's working folder."""
    from gen_m2m import main

    argv = [
        "--gpu_id",
        "-1",
        "--name",
        "mtrans_hrvq5",
        "--res_name",
        "res_hrvq5",
        "--dataset_name",
        "synthetic",
        "--checkpoints_dir",
        str(pipeline["ckpts"]),
        "--data_root",
        str(pipeline["work"] / "data" / "synthetic"),
        "--out_root",
        str(pipeline["work"] / "generation"),
        "--no_render",
        *args,
    ]
    return main(argv)


def one_line_error(capsys, pipeline, *args: str) -> str:
    """The error line of a run that must fail (progress bars of the run aside)."""
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_info:
        gen(pipeline, *args)
    lines = [line for line in capsys.readouterr().err.replace("\r", "\n").splitlines() if line.strip()]
    assert exit_info.value.code == 2 and "error: " in lines[-1] and "Traceback" not in lines, lines
    assert sum("error: " in line for line in lines) == 1  # ours ("error: ...") or argparse's ("gen_m2m.py: error:")
    return lines[-1]


def test_bad_music_ends_in_one_line_and_a_folder_run_skips_it(pipeline, tmp_path, capsys):
    sr = 22050
    t = np.arange(int(3 * sr)) / sr
    bad = tmp_path / "bad"
    bad.mkdir()
    sf.write(bad / "good.wav", 0.5 * np.sin(2 * np.pi * 220 * t) * (np.sin(2 * np.pi * 2 * t) > 0), sr)
    sf.write(bad / "silent.wav", np.zeros_like(t), sr)
    sf.write(bad / "short.wav", 0.5 * np.sin(2 * np.pi * 220 * t[: sr // 2]), sr)
    (bad / "broken.mp3").write_bytes(b"not music at all" * 100)
    imageio_ffmpeg_writer = imageio_ffmpeg.write_frames(str(bad / "mute.mp4"), (64, 64), fps=30)
    imageio_ffmpeg_writer.send(None)
    for _ in range(60):
        imageio_ffmpeg_writer.send(np.zeros((64, 64, 3), np.uint8).tobytes())
    imageio_ffmpeg_writer.close()
    expected = {
        "silent.wav": "silent",
        "short.wav": "0.50 s of music; at least 1 s",
        "broken.mp3": "not a readable",
        "mute.mp4": "has no audio track",
    }
    for name, words in expected.items():
        assert words in one_line_error(capsys, pipeline, "--ext", "bad", "--music", str(bad / name))
    report = gen(pipeline, "--ext", "folder", "--music", str(bad))
    assert [Path(d["music"]).name for d in report["done"]] == ["good.wav"]
    assert {Path(f).name for f, _ in report["skipped"]} == set(expected)
    with np.load(pipeline["work"] / "generation" / "folder" / "good.npz") as f:
        assert f["joints"].shape == (90, 52, 3)
    missing = one_line_error(capsys, pipeline, "--music", str(tmp_path / "nothing.wav"))
    assert "not found" in missing
    assert "argument --time_steps: 0 is not an integer >= 1" in one_line_error(
        capsys, pipeline, "--music", str(bad / "good.wav"), "--time_steps", "0"
    )


def test_a_tokenizer_that_does_not_match_the_transformers_is_refused(pipeline, capsys):
    from train_vq import main as train_vq

    train_vq(
        [
            "--vq_type",
            "rvq",
            "--name",
            "other_vq",
            "--dataset_name",
            "synthetic",
            "--data_root",
            str(pipeline["work"] / "data" / "synthetic"),
            "--checkpoints_dir",
            str(pipeline["ckpts"]),
            "--gpu_id",
            "-1",
            "--max_steps",
            "1",
            "--batch_size",
            "4",
            "--window_size",
            "16",
            "--nb_code",
            "8",
            "--code_dim",
            "8",
            "--width",
            "8",
            "--depth",
            "1",
        ]
    )
    err = one_line_error(capsys, pipeline, "--vq_name", "other_vq")
    assert "'mtrans_hrvq5' was trained on tokenizer 'hrvq5_synthetic', not 'other_vq'" in err
    assert "not found" in one_line_error(capsys, pipeline, "--res_name", "no_such_run")


def test_formats_choose_the_outputs(pipeline, tmp_path, capsys):
    song = write_song(tmp_path / "s.wav", 2.0)
    gen(pipeline, "--ext", "npz_only", "--music", str(song), "--formats", "npz")
    out = pipeline["work"] / "generation" / "npz_only"
    assert sorted(p.name for p in out.iterdir()) == ["s.npz"]
    gen(pipeline, "--ext", "bvh_glb", "--music", str(song), "--formats", "glb,bvh")  # the npz is always written
    assert sorted(p.name for p in (out.parent / "bvh_glb").iterdir()) == ["s.bvh", "s.glb", "s.npz"]
    err = one_line_error(capsys, pipeline, "--ext", "bad", "--music", str(song), "--formats", "npz,fbx")
    assert "unknown output format(s) fbx" in err
    err = one_line_error(capsys, pipeline, "--ext", "bad", "--music", str(song), "--formats", "npz,mp4")  # + gen's
    # --no_render
    assert "--no_render and --formats ...mp4 contradict each other" in err


def test_repeat_times_gives_named_samples_per_music(pipeline):
    data = pipeline["data"]
    report = gen(pipeline, "--ext", "repeats", "--repeat_times", "2", "--protocol", "lodge", "--split", "val")
    names = sorted(report["per_sample"])
    clips = [data.clips[i]["name"] for i in data.clip_ids("val")]
    assert names == sorted(f"{c}_r{k}" for c in clips for k in range(2))
    assert report["protocol"] == "lodge" and report["counts"]["repeat_times"] == 2 and report["runs"]["split"] == "val"
    first, second = (
        np.load(pipeline["work"] / "generation" / "repeats" / f"{clips[0]}_r{k}.npz")["joints"] for k in range(2)
    )
    assert first.shape == second.shape and not np.allclose(first, second)  # two different samples
    page = read_page_meta(pipeline["work"] / "generation" / "repeats" / "viewer.html")
    assert [lane["name"] for lane in page["scenes"][0]["lanes"]] == ["ground truth", "generated r0", "generated r1"]


def test_outputs_are_kept_unless_overwrite_and_a_full_disk_keeps_earlier_ones(pipeline, tmp_path, capsys):
    songs = tmp_path / "songs"
    songs.mkdir()
    for k, name in enumerate(("a", "b")):
        write_song(songs / f"{name}.wav", 2.0, seed=k)
    out = pipeline["work"] / "generation" / "kept"
    first = gen(pipeline, "--ext", "kept", "--music", str(songs))
    assert [Path(d["music"]).name for d in first["done"]] == ["a.wav", "b.wav"]
    before = (out / "a.npz").read_bytes()
    kept_files = {p: p.read_bytes() for p in (out / "a.npz", out / "a.bvh")}
    write_song(songs / "c.wav", 2.0, seed=5)
    again = gen(pipeline, "--ext", "kept", "--music", str(songs))  # a and b exist: kept and listed, c is new
    assert [Path(d["music"]).name for d in again["done"]] == ["c.wav"] and again["kept"] == [
        str(songs / "a.wav"),
        str(songs / "b.wav"),
    ]
    assert (out / "a.npz").read_bytes() == before
    assert [s["name"] for s in read_page_meta(out / "viewer.html")["scenes"]] == ["a", "b", "c"]  # kept ones too
    # a full disk (a file-size limit) while replacing: one line, the earlier dance intact, no temporary file left
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (min(map(len, kept_files.values())) // 2, hard))
    try:
        err = one_line_error(capsys, pipeline, "--ext", "kept", "--music", str(songs / "a.wav"), "--overwrite")
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
    assert err.startswith(f"error: cannot write {out / 'a.bvh'}: File too large") and "a.bvh is unchanged" in err
    assert all(p.read_bytes() == data for p, data in kept_files.items())  # the earlier dance, whole
    assert sorted(p.name for p in out.iterdir() if p.name.startswith(".")) == []
    replaced = gen(pipeline, "--ext", "kept", "--music", str(songs / "a.wav"), "--overwrite", "--seed", "3")
    assert replaced["done"] and (out / "a.npz").read_bytes() != before
    # one dance name for two music files; a dance that would overwrite its own music; an earlier split run
    write_song(songs / "c.flac", 2.0)
    err = one_line_error(capsys, pipeline, "--ext", "clash", "--music", str(songs))
    assert "1 input group(s) would write the same output" in err and "c.flac + c.wav -> " in err
    video = pipeline["work"] / "generation" / "self" / "clip.mp4"
    video.parent.mkdir()
    subprocess.run(
        [
            imageio_ffmpeg.get_ffmpeg_exe(),
            "-loglevel",
            "error",
            "-f",
            "lavfi",
            "-i",
            "color=c=black:s=64x64:d=2",
            "-i",
            str(songs / "a.wav"),
            "-shortest",
            str(video),
        ],
        check=True,
    )
    err = one_line_error(capsys, pipeline, "--ext", "self", "--music", str(video))
    assert f"the dance {video} is the input --music {video}: it would write over its own input" in err
    err = one_line_error(capsys, pipeline, "--ext", "eval_synthetic")
    assert "holds an earlier generation (" in err and "choose another --ext or pass --overwrite" in err


def test_every_edit_mode_on_a_three_minute_song(pipeline, tmp_path, training_speed):
    """--keep, --regen, --variation and --prefix each give the song's length; what is kept comes back bit for bit;
    the prefix is continued without a jump; the folder's page shows each edit beside its source."""
    song = write_song(tmp_path / "three_minutes.wav", 180.0, seed=77)
    frames = round(30 * 180.0)
    fast = ("--time_steps", "6")  # the properties asked here do not depend on the sampling's quality
    gen(pipeline, "--ext", "edit_source", "--music", str(song), "--formats", "npz", *fast)
    source = pipeline["work"] / "generation" / "edit_source" / "three_minutes.npz"
    src = np.load(source)["joints"]
    out = pipeline["work"] / "generation"

    def edited(ext: str, *args: str, formats: str = "npz") -> tuple[np.ndarray, np.ndarray, dict]:
        report = gen(pipeline, "--ext", ext, "--music", str(song), "--formats", formats, *fast, *args)
        with np.load(out / ext / "three_minutes.npz") as f:
            joints, face = f["joints"], f["expressions"]
        assert joints.shape == (frames, 52, 3) and np.isfinite(joints).all(), ext
        return joints, face, report

    joints, _, report = edited("keep", "--edit", str(source), "--keep", "0-10,20-35,170-180", formats="npz,html")
    kept = np.zeros(frames, bool)
    kept[:300] = kept[600:1050] = kept[5100:] = True
    assert np.array_equal(joints[kept], src[kept])  # bit for bit
    assert not np.allclose(joints[300:600], src[300:600], atol=1e-3)  # the gaps are new
    assert report["done"][0]["kept_spans"] == [[0.0, 10.0], [20.0, 35.0], [170.0, 180.0]]
    page = read_page_meta(out / "keep" / "viewer.html")["scenes"][0]
    assert page["spans"] == [[0.0, 10.0], [20.0, 35.0], [170.0, 180.0]]
    assert [lane["name"] for lane in page["lanes"]] == ["edited (keep 0-10,20-35,170-180)", "source"]

    src_face = np.load(source)["expressions"]
    joints, face, _ = edited("hands_face", "--edit", str(source), "--regen", "hands,face")
    assert np.array_equal(joints[:, :22], src[:, :22])  # the body as it was
    assert not np.allclose(joints[:, 22:], src[:, 22:], atol=1e-3) and not np.allclose(face, src_face, atol=1e-3)

    joints, _, _ = edited("variation", "--edit", str(source), "--variation", "0.3", "--seed", "5")
    assert not np.allclose(joints, src, atol=1e-3)

    prefix = out / "eval_synthetic" / f"{pipeline['data'].clips[pipeline['data'].clip_ids('test')[0]]['name']}.npz"
    joints, _, _ = edited("prefix", "--prefix", str(prefix), "--prefix_seconds", "4")
    assert np.array_equal(joints[:120], np.load(prefix)["joints"][:120])
    rep = continuity_report(joints, np.array([120]), training_speed)
    assert rep["speed_inside_p5"] <= rep["speed_border_mean"] <= rep["speed_inside_p95"], rep


def test_edits_that_make_no_sense_are_one_line(pipeline, tmp_path, capsys):
    song = write_song(tmp_path / "s.wav", 6.0)
    dance = pipeline["work"] / "generation" / "eval_synthetic"
    source = next(iter(sorted(dance.glob("*.npz"))))
    err = one_line_error(
        capsys,
        pipeline,
        "--ext",
        "e",
        "--music",
        str(song),
        "--edit",
        str(source),
        "--keep",
        "2-9",
        "--name",
        "no_such_run",
    )
    assert "--keep 2-9: the song is 6.00 s long" in err  # before the models load (else: run not found)
    err = one_line_error(capsys, pipeline, "--ext", "e", "--music", str(song), "--edit", str(source), "--regen", "tail")
    assert "--regen 'tail': name parts from body, hands, face" in err
    err = one_line_error(
        capsys, pipeline, "--ext", "e", "--music", str(song), "--prefix", str(source), "--regen", "hands"
    )
    assert "--regen edit a dance (--edit DANCE), not a --prefix to continue" in err
    err = one_line_error(
        capsys,
        pipeline,
        "--ext",
        "e",
        "--music",
        str(song),
        "--prefix",
        str(source),
        "--prefix_seconds",
        "30",
        "--name",
        "no_such_run",
    )
    assert "--prefix_seconds 30" in err and "long (give 1/30 <= S <=" in err
    err = one_line_error(
        capsys,
        pipeline,
        "--ext",
        "eval_synthetic",
        "--music",
        str(dance / f"{source.stem}.wav"),
        "--edit",
        str(source),
        "--keep",
        "0-1",
    )
    assert "it would write over its own input" in err
