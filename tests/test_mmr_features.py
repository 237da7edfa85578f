"""A trained MMR as an embedder: `mmr_music_feat256.py` (dataset and audio modes), the `mmr` music feature type, the
matching score (parity with the released formula) and the one-line errors."""

import argparse
import json
import shutil

import numpy as np
import pytest

from data.audio_extraction.registry import music_feature
from data.loaders import MusicMotionClips, ProcessedData
from evaluation.metrics.mmr_matching import embedded_matching_scores, matching_score, matching_scores, segment_cosine
from MMR.embedder import load_mmr
from MMR.eval_mmr import main as eval_mmr
from MMR.losses import similarity
from MMR.mmr_music_feat256 import main as mmr_music_feat256
from MMR.music_features import embed_song
from MMR.retrieval import retrieval_metrics
from options.mmr_options import add_mmr_options
from options.train_options import add_loop_options, add_run_options
from training.mmr import MMRTrainer
from utils.cli import UserError


def released_matching_score(motion_segments, music_seq, num_segments, mu_weight=0.7, lambda_weight=0.3):
    """`calculate_mmr_matching_score`'s arithmetic for one sequence, as released (loops and all)."""
    z_segments, m_segments = [], []
    for t in range(num_segments):
        z_segments.append(motion_segments[t])
        if len(music_seq.shape) > 1 and music_seq.shape[0] >= num_segments:
            m_segments.append(music_seq[t])
        else:
            m_segments.append(music_seq)
    z_segments, m_segments = np.array(z_segments), np.array(m_segments)
    feature_dist = np.sum((z_segments - m_segments) ** 2, axis=1)
    delta_z = z_segments[1:] - z_segments[:-1]
    delta_m = m_segments[1:] - m_segments[:-1] if len(m_segments) > 1 else np.zeros_like(delta_z)
    dynamics_dist = np.sum(np.linalg.norm(delta_z - delta_m, axis=1))
    return np.sqrt(mu_weight * np.mean(feature_dist) + lambda_weight * dynamics_dist)


def test_matching_score_known_values_and_release_parity():
    rng = np.random.default_rng(0)
    z = rng.normal(size=(7, 16))
    assert matching_score(z, z) == 0.0 and segment_cosine(z, z) == pytest.approx(1.0)
    offset = np.full(16, 0.5)  # a constant offset: no dynamics term, feature term 16 x 0.25
    assert matching_score(z + offset, z) == pytest.approx(np.sqrt(0.7 * 4.0))
    assert segment_cosine(z, -z) == pytest.approx(-1.0)
    music_segments, clip_vector = rng.normal(size=(9, 16)), rng.normal(size=16)
    assert matching_score(z, music_segments) == pytest.approx(released_matching_score(z, music_segments, 7), 1e-12)
    assert matching_score(z, clip_vector) == pytest.approx(released_matching_score(z, clip_vector, 7), 1e-12)
    assert matching_score(z, clip_vector, 0.5, 0.5) == pytest.approx(
        released_matching_score(z, clip_vector, 7, 0.5, 0.5), 1e-12
    )
    assert np.isnan(matching_score(z[:1], music_segments))  # the release skips sequences of < 2 segments
    scores = matching_scores([z, z[:1], z + offset], [z, z, z])
    assert scores["MMR_sequences"] == 2 and scores["MMR_MS"] == pytest.approx(np.sqrt(0.7 * 4.0) / 2)
    with pytest.raises(ValueError, match="3 music segments for 7"):
        matching_score(z, music_segments[:3])


@pytest.fixture(scope="module")
def mmr_run(data_root, tmp_path_factory):
    """A tiny MMR trained for one epoch on a copy of the synthetic dataset (the feature script writes into it)."""
    root = tmp_path_factory.mktemp("mmr_features") / "synthetic"
    shutil.copytree(data_root, root)
    p = argparse.ArgumentParser()
    add_run_options(p)
    add_loop_options(p, batch_size=16, lr=1e-4)
    add_mmr_options(p)
    opt = p.parse_args(
        [
            "--dataset_name",
            "synthetic",
            "--data_root",
            str(root),
            "--gpu_id",
            "-1",
            "--latent",
            "32",
            "--ff",
            "64",
            "--layers",
            "1",
            "--max_epoch",
            "1",
            "--warm_up_iter",
            "2",
            "--save_latest",
            "0",
        ]
    )
    run = root.parent / "mmr_run"
    metrics = MMRTrainer(opt, run).fit()
    return run, root, metrics


def test_loaded_mmr_reproduces_the_validation_of_training(mmr_run):
    run, root, metrics = mmr_run
    embedder = load_mmr(run)  # best.tar: the one validated epoch
    val = MusicMotionClips(ProcessedData(root), "val", "baseline", normalize=False, deterministic=True)
    batch = val.__getitems__(list(range(len(val))))
    sims = similarity(embedder.music(batch["music"]), embedder.motion(batch["motion"])).numpy()
    ours = retrieval_metrics(sims)
    assert all(ours[k] == pytest.approx(metrics[k], abs=1e-9) for k in ours)
    report = eval_mmr(["--run_dir", str(run), "--split", "val", "--gpu_id", "-1"])  # the CLI: same numbers, JSON
    assert report["metrics"] == pytest.approx(ours) and report["windows"] == len(val) and report["step"] > 0
    assert json.loads((run / "eval" / "retrieval_val.json").read_text())["metrics"] == pytest.approx(ours)
    with pytest.raises(UserError, match="reads 'baseline' music features \\(35-d\\); got 4800-d"):
        embedder.music(np.zeros((1, 148, 4800), np.float32))
    assert embedder.motion(batch["motion"][:2, :, :263]).shape == (2, 32)  # already the body part: same slice
    with pytest.raises(UserError, match="623/723-d motion features; got 100-d"):
        embedder.motion(np.zeros((1, 148, 100), np.float32))


def test_feature_script_writes_registers_and_matches_the_audio_path(mmr_run, tmp_path):
    run, root, _ = mmr_run
    data = ProcessedData(root)
    with pytest.raises(UserError, match="'mmr' were not extracted; run python MMR/mmr_music_feat256.py --run_dir"):
        data.music_dir("mmr")
    info = mmr_music_feat256(["--run_dir", str(run), "--gpu_id", "-1"])  # dataset: the one MMR trained on
    data = ProcessedData(root)
    assert data.summary["music"]["mmr"] == info and info["stride_frames"] == 15 and info["source"]["type"] == "baseline"
    embedder = load_mmr(run)
    for clip in data.clips:
        song = clip.get("music", clip["name"])
        windows = np.load(root / "processed" / "music" / "mmr" / f"{song}.npy")
        segments = np.load(root / "processed" / "music" / "mmr" / "segments" / f"{song}.npy")
        baseline = np.load(root / "processed" / "music" / "baseline_full_song" / f"{song}.npy")
        n_windows = (len(baseline) - 150) // 15 + 1  # the song's windows (the motion's, 1 frame shorter, has 1 less)
        assert windows.shape == (n_windows, 32) and segments.shape == (len(baseline) // 30, 32)
        assert n_windows >= (data.windows[:, 0] == data.clips.index(clip)).sum()
        k = n_windows - 1  # the last window: frames [15k, 15k + 148)
        np.testing.assert_allclose(windows[k], embedder.music(baseline[None, 15 * k : 15 * k + 148])[0], atol=1e-5)
        np.testing.assert_allclose(segments[2], embedder.music(baseline[None, 60:90])[0], atol=1e-5)
    slices = baseline[np.arange(n_windows)[:, None] * 15 + np.arange(150)]  # per_slice layout: (n, 150, 35)
    from_slices, from_song = embed_song(slices, embedder), embed_song(baseline, embedder)
    np.testing.assert_allclose(from_slices[0], from_song[0], atol=1e-5)
    np.testing.assert_allclose(from_slices[1], from_song[1][: len(from_slices[1])], atol=1e-5)
    with pytest.raises(UserError, match="one row per window, not per frame"):
        MusicMotionClips(data, "train", "mmr")
    clips = MusicMotionClips(data, "train", "baseline", clip_type="mmr")  # the transformers' clip condition
    batch = clips.__getitems__([0, len(clips) - 1])
    for i, (name, k) in enumerate(zip(batch["name"], batch["window"].tolist(), strict=True)):
        song = data.clips[int(batch["clip"][i])].get("music", name)
        np.testing.assert_array_equal(
            batch["music_clip"][i].numpy(), np.load(root / "processed" / "music" / "mmr" / f"{song}.npy")[k]
        )
    song = data.clips[0].get("music", data.clips[0]["name"])
    audio = root / "music" / f"{song}.wav"
    written = mmr_music_feat256(
        ["--run_dir", str(run), "--gpu_id", "-1", "--audio", str(audio), "--out_dir", str(tmp_path / "feats")]
    )
    assert written == [tmp_path / "feats" / f"{song}.npy"]
    from_audio = np.load(written[0])  # the same song through its audio: the same embeddings
    np.testing.assert_allclose(from_audio, np.load(root / "processed" / "music" / "mmr" / f"{song}.npy"), atol=1e-5)
    registered = music_feature("mmr").extract(audio, run=str(run))  # generation recomputes it through the registry
    np.testing.assert_allclose(registered, from_audio, atol=1e-6)
    assert np.load(tmp_path / "feats" / "segments" / f"{song}.npy").shape[1] == 32


def test_matching_scores_of_a_dance_with_its_music(mmr_run):
    run, root, _ = mmr_run
    data, embedder = ProcessedData(root), load_mmr(run)
    clip = data.clips[0]
    music = np.load(root / "processed" / "music" / "baseline_full_song" / f"{clip.get('music', clip['name'])}.npy")
    motion = data.motion(0)
    scores = embedded_matching_scores(embedder, [motion, motion[:59]], [music, music[:59]])
    assert scores["MMR_sequences"] == 1 and np.isfinite(scores["MMR_MS"]) and -1 <= scores["MMR_cos"] <= 1


def test_feature_script_errors_are_one_line(mmr_run, tmp_path, capsys):
    run, root, _ = mmr_run
    cases = [
        (["--run_dir", str(tmp_path / "nosuch")], "train it first: cd MMR && python train_mmr.py"),
        (["--run_dir", str(run), "--audio", str(tmp_path / "missing.wav")], "missing.wav: no such file"),
    ]
    other = tmp_path / "other"  # a dataset without the MMR's music features
    shutil.copytree(root / "processed", other / "processed")
    summary = json.loads((other / "processed" / "summary.json").read_text())
    summary["music"].pop("baseline")
    (other / "processed" / "summary.json").write_text(json.dumps(summary))
    cases.append(
        (
            ["--run_dir", str(run), "--dataset_name", "synthetic", "--data_root", str(other)],
            "'baseline' were not extracted; run python create_dataset.py --dataset_name synthetic",
        )
    )
    for argv, message in cases:
        with pytest.raises(SystemExit) as exit_info:
            mmr_music_feat256([*argv, "--gpu_id", "-1"])
        err = capsys.readouterr().err.strip().splitlines()
        assert exit_info.value.code == 2 and len(err) == 1 and message in err[0], err
