"""Each protocol against its reference pipeline written out literally (Bailando `metrics_new.py` +
`beat_align_score.py`, LODGE `metric/metrics_finedance.py` + `beat_align_score.py`, EDGE `eval_pfc.py`, POPDG
`eval/calculate_scores.py` + `calculate_beat_scores.py`), on the real AIST++ slices stored as each codebase stores
its outputs. The per-feature reference loops live in the metric tests and are reused here."""

import pickle
import warnings

import numpy as np
import pytest
from scipy import linalg

from data.formats.motion import JointsMotion, resample
from evaluation.evaluate import EvalRequest, evaluate
from motion.frame import Z_TO_Y_UP
from tests.conftest import realdata
from tests.test_metrics_beat_align import reference_bailando, reference_fact
from tests.test_metrics_geometric import reference_geometric
from tests.test_metrics_kinetic_fid import reference_kinetic
from tests.test_metrics_physics import reference_pfc

NAMES = (
    "true_gBR_sBM_cAll_d04_mBR0_ch02_slice0",
    "true_gKR_sBM_cAll_d30_mKR2_ch02_slice6",
    "true_gLH_sBM_cAll_d18_mLH4_ch02_slice1",
)


def slices_z_up():
    """The three real slices, (150, 24, 3) Z-up at 30 fps, as EDGE wrote them."""
    return [np.loadtxt(realdata(f"aistpp_edge/{n}.csv"), delimiter=",").reshape(150, 24, 3) for n in NAMES]


def predictions(seqs, seed=0):
    """Predictions: each slice jittered, and one long sequence (the three slices, three times) so crops matter."""
    rng = np.random.default_rng(seed)
    out = [s + rng.normal(scale=0.01, size=s.shape) for s in seqs]
    return out + [np.concatenate(seqs + seqs[::-1] + seqs)]


def reference_fid(gen, gt, eps):
    """Bailando/LODGE `calc_fid` (eps 1e-5) and mint/POPDG `calculate_frechet_distance` (eps 1e-6)."""
    mu1, mu2, s1, s2 = gen.mean(0), gt.mean(0), np.cov(gen, rowvar=False), np.cov(gt, rowvar=False)
    with warnings.catch_warnings():  # few samples: a singular product, as in the references
        warnings.simplefilter("ignore", linalg.LinAlgWarning)
        covmean = linalg.sqrtm(s1.dot(s2))
    if not np.isfinite(covmean).all():
        offset = np.eye(s1.shape[0]) * eps
        covmean = linalg.sqrtm((s1 + offset).dot(s2 + offset))
    covmean = covmean.real if np.iscomplexobj(covmean) else covmean
    return (mu1 - mu2).dot(mu1 - mu2) + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean)


def reference_set_metrics(pred_k, pred_m, gt_k, gt_m, eps):
    """`quantized_metrics`: GT-only z-scores, FID, then `calculate_avg_distance`'s double loop."""

    def avg_distance(f):
        n, dist = len(f), 0.0
        for i in range(n):
            for j in range(i + 1, n):
                dist += np.linalg.norm(f[i] - f[j])
        return dist / ((n * n - n) / 2)

    out = {}
    for name, p, g in (("k", pred_k, gt_k), ("g", pred_m, gt_m)):
        p, g = np.stack(p).astype(np.float64), np.stack(g).astype(np.float64)
        mean, std = g.mean(0), g.std(0)
        g, p = (g - mean) / (std + 1e-10), (p - mean) / (std + 1e-10)
        out[f"FID_{name}"], out[f"Div_{name}"], out[f"Div_{name}_gt"] = (
            reference_fid(p, g, eps),
            avg_distance(p),
            avg_distance(g),
        )
    return out


def write_beats(folder, names, frames, fps):
    folder.mkdir()
    for n in names:
        np.savetxt(folder / f"{n}.txt", frames / fps)


def assert_metrics(ours, ref, keys, rtol):
    for k in keys:
        assert ours[k] == pytest.approx(ref[k], rel=rtol), k


def test_bailando_protocol_equals_its_reference(tmp_path):
    """Bailando's inputs: `pred_position` (T, 72) Y-up 60 fps in np.save'd ".pkl" dicts; GT features of whole
    sequences, predictions cropped to 1200 frames; first-frame root subtracted; kinetic bug; BAS over music beats
    truncated to the motion."""
    gt = [
        resample(JointsMotion(joints=s @ Z_TO_Y_UP.T, fps=30.0), 60.0).joints.astype(np.float64) for s in slices_z_up()
    ]
    pred = [
        resample(JointsMotion(joints=s @ Z_TO_Y_UP.T, fps=30.0), 60.0).joints.astype(np.float64)
        for s in predictions(slices_z_up())
    ]
    assert len(pred[-1]) > 1200
    for folder, seqs in (("pred", pred), ("gt", gt)):
        (tmp_path / folder).mkdir()
        for i, s in enumerate(seqs):
            np.save(tmp_path / folder / f"s{i}.npy", {"pred_position": s.reshape(len(s), 72)})
            (tmp_path / folder / f"s{i}.npy").rename(tmp_path / folder / f"s{i}.pkl")
    music = np.arange(7, 3000, 31)  # beat frames at 60 fps (Bailando's json one-hot column 53)
    write_beats(tmp_path / "beats", [f"s{i}" for i in range(len(pred))], music, 60.0)
    ours = evaluate(
        EvalRequest(
            pred_dir=tmp_path / "pred", gt_dir=tmp_path / "gt", beats_dir=tmp_path / "beats", protocol="bailando"
        )
    )

    def features(j, crop):  # calc_and_save_feats / extract_aist_features
        j = j[:crop] if crop else j
        j = j - j[:1, :1]
        return reference_kinetic(j, ft=1 / 60, up="y", bug=True), reference_geometric(j)

    pk, pm = zip(*(features(s, 1200) for s in pred), strict=True)
    gk, gm = zip(*(features(s, None) for s in gt), strict=True)
    ref = reference_set_metrics(pk, pm, gk, gm, eps=1e-5)
    bas = []
    for s in pred:  # calc_ba_score on the whole (uncropped) prediction
        length = len(s) - 1
        bas.append(reference_bailando(s, music[music < length]))
    ref["BAS"] = np.mean(bas)
    assert ours["metrics"]["BAS"] == ours["metrics"]["BAS_bailando"]
    assert_metrics(ours["metrics"], ref, ["FID_k", "Div_k", "Div_k_gt"], rtol=1e-5)
    assert_metrics(ours["metrics"], ref, ["FID_g", "Div_g", "Div_g_gt", "BAS"], rtol=1e-9)


def test_lodge_protocol_equals_its_reference(tmp_path):
    """LODGE's FineDance path: SMPL-X FK joints at 30 fps, first 1024 frames, 22 joints, first-frame root then
    per-frame root-relative, features with frame time 1/60; BAS on SMPL-X joints 0-23 over every music beat."""
    seqs = [s @ Z_TO_Y_UP.T for s in slices_z_up()]
    pred = [s @ Z_TO_Y_UP.T for s in predictions(slices_z_up(), seed=1)]
    assert len(pred[-1]) > 1024

    def smplx55(j24):  # body, jaw and eyes (here at the head), 30 fingers (here at the wrists)
        body = j24[:, :22]
        return np.concatenate([body, body[:, [15, 15, 15]], body[:, [20] * 15], body[:, [21] * 15]], axis=1)

    for folder, ss in (("pred", pred), ("gt", seqs)):
        (tmp_path / folder).mkdir()
        for i, s in enumerate(ss):
            np.save(tmp_path / folder / f"s{i}.npy", smplx55(s))
    music = np.arange(3, 1500, 16)  # beat frames at 30 fps: more than the motion holds (LODGE keeps them all)
    write_beats(tmp_path / "beats", [f"s{i}" for i in range(len(pred))], music, 30.0)
    ours = evaluate(
        EvalRequest(pred_dir=tmp_path / "pred", gt_dir=tmp_path / "gt", beats_dir=tmp_path / "beats", protocol="lodge")
    )
    assert not any("approximation" in n for n in ours["notes"])  # 55 joints: LODGE's joints exactly

    def features(j):  # calc_and_save_feats
        j = smplx55(j)[:1024, :22].reshape(-1, 66)
        j = (j - np.tile(j[:1, :3], (1, 22))).reshape(-1, 22, 3)
        j[:, 1:] = j[:, 1:] - j[:, :1]
        return reference_kinetic(j, ft=1 / 60, up="y", bug=True), reference_geometric(j)

    pk, pm = zip(*(features(s) for s in pred), strict=True)
    gk, gm = zip(*(features(s) for s in seqs), strict=True)
    ref = reference_set_metrics(pk, pm, gk, gm, eps=1e-5)
    ref["BAS"] = np.mean([reference_bailando(smplx55(s)[:, :24] - smplx55(s)[:1, :1], music) for s in pred])
    assert_metrics(ours["metrics"], ref, ["FID_k", "Div_k", "Div_k_gt"], rtol=1e-5)
    assert_metrics(ours["metrics"], ref, ["FID_g", "Div_g", "Div_g_gt", "BAS"], rtol=1e-9)


def test_edge_protocol_equals_its_reference(tmp_path):
    """EDGE's `full_pose` pickles (Z-up, 30 fps): PFC as `calc_physical_score`; POPDG's features on the Z-up joints
    with the Y-up defaults, its FID (eps 1e-6) and its beat score on the first 300 frames with order 10."""
    seqs, pred = slices_z_up(), predictions(slices_z_up(), seed=2)
    for folder, ss in (("pred", pred), ("gt", seqs)):
        (tmp_path / folder).mkdir()
        for i, s in enumerate(ss):
            with open(tmp_path / folder / f"s{i}.pkl", "wb") as f:
                pickle.dump({"full_pose": s, "smpl_poses": np.zeros((len(s), 72)), "smpl_trans": s[:, 0]}, f)
    music = np.arange(5, 900, 15)  # the beat column of EDGE's 35-d features, 30 fps
    onehot = np.zeros(900, bool)
    onehot[music] = True
    write_beats(tmp_path / "beats", [f"s{i}" for i in range(len(pred))], music, 30.0)
    ours = evaluate(
        EvalRequest(pred_dir=tmp_path / "pred", gt_dir=tmp_path / "gt", beats_dir=tmp_path / "beats", protocol="edge")
    )
    pk, pm = zip(*((reference_kinetic(s, bug=True), reference_geometric(s)) for s in pred), strict=True)
    gk, gm = zip(*((reference_kinetic(s, bug=True), reference_geometric(s)) for s in seqs), strict=True)
    ref = reference_set_metrics(pk, pm, gk, gm, eps=1e-6)
    ref["PFC"] = np.mean([reference_pfc(s) for s in pred]) * 10000
    ref["BAS"] = np.mean([reference_fact(s[:300], onehot) for s in pred])
    assert ours["metrics"]["BAS"] == ours["metrics"]["BAS_fact"]
    assert_metrics(ours["metrics"], ref, ["FID_k", "Div_k", "Div_k_gt"], rtol=1e-5)
    assert_metrics(ours["metrics"], ref, ["FID_g", "Div_g", "Div_g_gt", "PFC", "BAS"], rtol=1e-6)
