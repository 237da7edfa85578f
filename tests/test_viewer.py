"""The web viewer: its data encoding, its page, its command line, and the page itself in a real headless browser
(Chromium; skipped with the reason where it cannot run)."""

from __future__ import annotations

import re
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf

from data.formats import load_motion
from data.synthetic_dance import plan_song, write_pair
from export.viewer import Lane, Scene, build_page, write_viewer
from export.viewer.browser import ViewerPage, browser_or_skip, chromium
from export.viewer.page import audio_payload, decode_joints, encode_joints, read_page_meta
from motion.skeleton import N_BODY_JOINTS, PARENTS
from tests.conftest import REPO, load_script
from utils.cli import UserError
from view_dance import main as view_dance

# a skeleton pixel: the bone colours are saturated or dark; background, grid, shadows and trajectory are light
SKELETON_MAX_CHANNEL = 100
HEAD, HEAD_RADIUS_M = 15, 0.09  # the head is drawn as a disc of this radius (viewer.js)


@pytest.fixture(scope="module")
def songs(tmp_path_factory) -> list[dict]:
    """Two synthetic song/dance pairs (12 s): music wav, SMPL-X npz, beat times, joints (T, 52, 3)."""
    root = tmp_path_factory.mktemp("viewer_songs")
    out = []
    for seed in (3, 4):
        plan = plan_song(seed, 12.0)
        paths = write_pair(plan, root)
        out.append({**paths, "beats": plan.beat_times(), "joints": load_motion(paths["motion"]).joints})
    return out


def test_joint_encoding_round_trips_within_half_a_step():
    rng = np.random.default_rng(0)
    body = rng.uniform(-0.9, 0.9, (300, 52, 3))
    body[:, 0] = 0
    travel = np.cumsum(rng.normal(0, 2.0, (300, 1, 3)), axis=0) + np.array([3.0, 1.0, -400.0])  # hundreds of metres
    joints = body + travel
    meta, data = encode_joints(joints)
    back = decode_joints(meta, data)
    assert back.shape == joints.shape
    assert np.abs(back - joints).max() <= meta["scale"] / 2 + 1e-4  # + float32 of a root 400 m away
    assert meta["scale"] <= 1e-4  # a body's reach, not the distance travelled, sets the step
    far = np.zeros((2, 52, 3))
    far[:, 5] = 80.0
    with pytest.raises(UserError, match="not a body"):
        encode_joints(far)


def test_the_page_is_one_offline_file(songs):
    scene = Scene(
        "song </script><b>",
        [Lane("a", songs[0]["joints"])],
        music=songs[0]["music"],
        beats=np.asarray(songs[0]["beats"]),
    )
    page = build_page([scene], "title <x>")
    assert page.count("</script>") == page.count("<script")  # a name cannot close the data element early
    assert "default-src 'none'" in page  # the browser refuses any network request
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", page)
    assert "<title>title &lt;x&gt;</title>" in page
    # the music is embedded (wav -> mp3 of the same length, which every browser plays)
    mime, data = audio_payload(songs[0]["music"])
    assert mime == "audio/mpeg"
    y, sr = sf.read(__import__("io").BytesIO(data))
    assert abs(len(y) / sr - sf.info(songs[0]["music"]).duration) < 0.05


def test_bad_lanes_are_one_line_errors(songs):
    with pytest.raises(UserError, match=r"joints \(T, 22 or 52, 3\)"):
        build_page([Scene("s", [Lane("bad", np.zeros((10, 17, 3)))])], "t")
    nan = songs[0]["joints"].copy()
    nan[3, 4, 1] = np.nan
    with pytest.raises(UserError, match="NaN"):
        build_page([Scene("s", [Lane("nan", nan)])], "t")
    with pytest.raises(UserError, match="at least one"):
        build_page([], "t")


def test_view_dance_command(songs, tmp_path):
    out = tmp_path / "cmp.html"
    page = view_dance(
        [
            str(songs[0]["motion"]),
            str(songs[1]["motion"]),
            "--music",
            str(songs[0]["music"]),
            "--out",
            str(out),
            "--names",
            "first,second",
        ]
    )
    assert page == out and out.stat().st_size > 10_000
    text = out.read_text()
    assert '"name":"first"' in text and '"name":"second"' in text
    mtime = out.stat().st_mtime_ns
    with pytest.raises(SystemExit):  # the page exists: kept
        view_dance([str(songs[0]["motion"]), "--out", str(out)])
    assert out.stat().st_mtime_ns == mtime
    with pytest.raises(SystemExit):
        view_dance([str(songs[0]["motion"]), "--out", str(tmp_path / "x.html"), "--beats", "b.txt", "--no_beats"])
    with pytest.raises(SystemExit):
        view_dance([str(songs[0]["motion"]), "--out", str(tmp_path / "x.png")])


# ------------------------------------------------------------------------------------------------ in a browser
def _project(camera: dict, joints: np.ndarray, origin: tuple[float, float]) -> np.ndarray:
    """Screen pixels (J, 2) of joints (J, 3) through a lane camera the page reports."""
    v = joints - np.asarray(camera["eye"])
    x, y, z = (v @ np.asarray(camera[k]) for k in ("right", "up", "forward"))
    return np.stack(
        [origin[0] + camera["cx"] + camera["focal"] * x / z, origin[1] + camera["cy"] - camera["focal"] * y / z],
        axis=-1,
    )


def _skeleton_mask(shot: np.ndarray, rect: dict, origin: tuple[float, float]) -> np.ndarray:
    """Skeleton pixels of one lane (the label strip at its top left out), in page coordinates."""
    mask = np.zeros(shot.shape[:2], bool)
    x0, y0 = int(origin[0] + rect["x"]), int(origin[1] + rect["y"])
    lane = shot[y0 + 30 : y0 + rect["h"], x0 + 2 : x0 + rect["w"] - 2]
    mask[y0 + 30 : y0 + rect["h"], x0 + 2 : x0 + rect["w"] - 2] = lane.max(axis=-1) < SKELETON_MAX_CHANNEL
    mask[y0 + 30 : y0 + rect["h"], x0 + 2 : x0 + rect["w"] - 2] |= (lane.min(axis=-1) < SKELETON_MAX_CHANNEL) & (
        np.ptp(lane.astype(int), axis=-1) > 90
    )  # saturated red / blue bones
    return mask


def _distance_to_segments(points: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Distance (P,) of each point (P, 2) to the nearest segment a-b (S, 2)."""
    ab = b - a
    t = np.clip(((points[:, None] - a) * ab).sum(-1) / np.maximum((ab * ab).sum(-1), 1e-9), 0, 1)
    return np.linalg.norm(points[:, None] - (a + t[..., None] * ab), axis=-1).min(axis=1)


def test_the_page_in_a_browser(songs, tmp_path):
    reason = browser_or_skip()
    if reason:
        pytest.skip(reason)
    lanes = [Lane("ground truth", songs[0]["joints"]), Lane("generated", songs[1]["joints"])]
    path = write_viewer(
        tmp_path / "two lanes.html", [Scene("song", lanes, songs[0]["music"], np.asarray(songs[0]["beats"]))]
    )
    with chromium() as browser:
        view = ViewerPage(browser, path, "#t=2.5")
        assert view.state()["t"] == pytest.approx(2.5)  # the fragment opens the page paused there
        assert not view.state()["playing"]
        origin = view.canvas_origin()
        shots, masks = [], []
        for t in (2.5, 7.0):
            drawn = view.seek(t)
            assert drawn["frame"] == round(t * 30)
            shot = view.screenshot()
            shots.append(shot)
            mask = np.zeros(shot.shape[:2], bool)
            for k, camera in enumerate(drawn["cameras"]):
                lane_mask = _skeleton_mask(shot, camera["rect"], origin)
                mask |= lane_mask
                joints = lanes[k].joints[drawn["frame"]]
                px = _project(camera, joints.astype(np.float64), origin)
                # every body joint has skeleton pixels within 3 px of where it projects
                ys, xs = np.nonzero(lane_mask)
                drawn_px = np.stack([xs, ys], axis=-1).astype(float)
                near = [np.min(np.hypot(*(drawn_px - p).T)) <= 3 for p in px[:N_BODY_JOINTS]]
                assert np.mean(near) >= 0.95, (t, k, np.mean(near))
                # and the skeleton pixels lie along the projected bones or on the head's disc (none elsewhere)
                head_depth = (joints[HEAD] - camera["eye"]) @ np.asarray(camera["forward"])
                head_r = max(4.0, camera["focal"] * HEAD_RADIUS_M / head_depth)
                off = (_distance_to_segments(drawn_px, px[PARENTS[1:]], px[1:]) > 12) & (
                    np.hypot(*(drawn_px - px[HEAD]).T) > head_r + 2
                )
                assert off.mean() < 0.02, (t, k, off.mean())
            masks.append(mask)
        moved = (masks[0] ^ masks[1]).sum() / max(masks[0].sum(), 1)
        assert moved > 0.3, moved  # the dancers moved between the two times
        # the URL fragment seeks too (for shared links)
        view.page.evaluate("""() => new Promise((done) => {
            window.addEventListener("hashchange", () => requestAnimationFrame(done), {once: true});
            location.hash = "#t=4"; })""")
        assert view.state()["t"] == pytest.approx(4.0)
        assert view.errors() == [] and view.network() == []


def test_playback_follows_the_music(songs, tmp_path):
    reason = browser_or_skip()
    if reason:
        pytest.skip(reason)
    path = write_viewer(
        tmp_path / "p.html",
        [Scene("song", [Lane("a", songs[0]["joints"])], songs[0]["music"], np.asarray(songs[0]["beats"]))],
    )
    with chromium() as browser:
        view = ViewerPage(browser, path)
        view.page.evaluate("() => { window.soulViewer.setRate(2); window.soulViewer.play(); }")
        view.page.wait_for_timeout(1000)
        state, audio_t = view.page.evaluate("() => [window.soulViewer.state(), music.currentTime]")
        assert state["playing"] and state["rate"] == 2
        assert 1.0 < state["t"] < 3.5  # about 2 s of music in 1 s at double speed
        assert state["t"] == pytest.approx(audio_t, abs=1e-6)  # the music is the clock
        # seeking while playing, twice in a row (a drag on the time bar): the music follows, and pause stops it
        state, audio_t = view.page.evaluate("""async () => { const v = window.soulViewer;
            v.seekLive(5); v.seekLive(6);
            await new Promise((ok) => setTimeout(ok, 300));
            return [v.state(), music.currentTime]; }""")
        assert state["playing"] and 6.0 < audio_t < 7.5 and state["t"] == pytest.approx(audio_t, abs=1e-6)
        paused = view.page.evaluate("""async () => { window.soulViewer.pause();
            const t = music.currentTime; await new Promise((ok) => setTimeout(ok, 300));
            return [music.paused, music.currentTime - t, window.soulViewer.state().playing]; }""")
        assert paused == [True, 0, False]
        assert view.errors() == [] and view.network() == []


def test_scenes_short_music_body_only_lanes_and_loop(songs, tmp_path):
    """Switching songs while playing, lanes of different lengths and joint sets, music shorter than the dance."""
    reason = browser_or_skip()
    if reason:
        pytest.skip(reason)
    short = tmp_path / "short.wav"
    y, sr = sf.read(songs[1]["music"])
    sf.write(short, y[: int(1.5 * sr)], sr)  # 1.5 s of music for a 3 s dance
    body = songs[1]["joints"][:60, :N_BODY_JOINTS]  # a 2 s body-only lane
    scenes = [
        Scene("one", [Lane("a", songs[0]["joints"])], songs[0]["music"], np.asarray(songs[0]["beats"])),
        Scene("mixed", [Lane("whole body", songs[1]["joints"][:90]), Lane("body only", body)], short, np.zeros(0)),
    ]
    path = write_viewer(tmp_path / "scenes.html", scenes)
    with chromium() as browser:
        view = ViewerPage(browser, path)
        view.page.evaluate("() => window.soulViewer.play()")
        drawn = view.page.evaluate("() => window.soulViewer.openScene(1, 0)")  # switched while playing
        assert [c["frame"] for c in drawn["cameras"]] == [0, 0] and view.state()["scene"] == 1
        # play across the end of the music (1.5 s) and of the shorter lane (2 s) to the end of the dance (about 3 s)
        view.page.evaluate("() => { window.soulViewer.setRate(2); window.soulViewer.play(); }")
        view.page.wait_for_timeout(2200)
        state = view.state()
        assert not state["playing"] and state["t"] == pytest.approx(state["duration"])  # stopped at the end
        assert state["drawn"]["frame"] == 89 and [c["frame"] for c in state["drawn"]["cameras"]] == [89, 59]
        # loop: the second pass has its music again
        looped = view.page.evaluate("""async () => { const v = window.soulViewer;
            document.getElementById("loop").click(); v.seekLive(2.5); v.play();
            await new Promise((ok) => setTimeout(ok, 700));
            return [v.state().t, music.paused, music.currentTime]; }""")
        assert looped[0] < 1.5 and looped[1] is False and looped[2] == pytest.approx(looped[0], abs=1e-6)
        view.page.evaluate("() => window.soulViewer.pause()")
        assert view.errors() == [] and view.network() == []


def test_kept_spans_are_shaded_on_the_time_bar(songs, tmp_path):
    reason = browser_or_skip()
    if reason:
        pytest.skip(reason)
    joints = songs[0]["joints"]
    duration = (len(joints) - 1) / 30
    scene = Scene(
        "edit",
        [Lane("edited", joints), Lane("source", joints)],
        songs[0]["music"],
        np.zeros(0),
        spans=[(0.0, 3.0), (8.0, duration)],
        span_label="kept from source.npz",
    )
    path = write_viewer(tmp_path / "edit.html", [scene])
    with chromium() as browser:
        view = ViewerPage(browser, path, "#t=0")
        shot = view.screenshot()
        bar = view.page.evaluate(
            "() => { const r = timebar.getBoundingClientRect(); return [r.left, r.top, r.width, r.height]; }"
        )
        note = view.page.evaluate("() => document.getElementById('note').textContent")
        assert view.errors() == [] and view.network() == []
    left, top, width, height = bar
    row = shot[int(top + height * 0.75), :, :3].astype(int)  # below the beat ticks
    shade = (row[:, 1] > row[:, 0] + 20) & (row[:, 1] > row[:, 2])  # greenish

    def frac(a: float, b: float) -> float:
        return shade[int(left + width * a / duration) + 3 : int(left + width * b / duration) - 3].mean()

    assert frac(0.0, 3.0) > 0.9 and frac(8.0, duration) > 0.9 and frac(3.0, 8.0) < 0.1
    assert note == "shaded on the time bar: kept from source.npz"


def test_plot_3d_global_writes_the_page_of_any_motion_file(songs, tmp_path):
    plot = load_script("plot_3d_global")
    out = tmp_path / "p.html"
    assert plot.main(
        ["--input", str(songs[0]["motion"]), "--out", str(out), "--audio", str(songs[0]["music"]), "--max_seconds", "4"]
    ) == [out]
    meta = read_page_meta(out)
    (scene,) = meta["scenes"]
    assert scene["audio"]["name"] == songs[0]["music"].name and scene["lanes"][0]["frames"] == 120
    folder = plot.main(
        ["--input", str(songs[0]["motion"].parent), "--out", str(tmp_path / "pages"), "--html", "--max_files", "0"]
    )
    assert sorted(p.name for p in folder) == sorted(f"{s['motion'].stem}.html" for s in songs)
    with pytest.raises(SystemExit):  # --html with a video name: refused, not a silent video
        plot.main(["--input", str(songs[0]["motion"]), "--out", str(tmp_path / "v.mp4"), "--html"])
    assert not (tmp_path / "v.mp4").exists()


def test_long_music_is_encoded_without_crashing(tmp_path):
    # libsndfile's Vorbis encoder crashes the process on one large write (2 minutes of noise is enough); the page
    # writes in blocks. In a subprocess, so that a crash is a failure and not the end of the test run.
    wav = tmp_path / "noise.wav"
    sf.write(wav, np.random.default_rng(0).uniform(-0.5, 0.5, 22050 * 150).astype(np.float32), 22050)
    code = (
        "import sys, soundfile, io; from export.viewer.page import audio_payload; "
        "mime, data = audio_payload(sys.argv[1]); print(round(soundfile.info(io.BytesIO(data)).duration, 1))"
    )
    res = subprocess.run([sys.executable, "-c", code, str(wav)], capture_output=True, text=True, cwd=REPO)
    assert res.returncode == 0, res.stderr[-500:]
    assert float(res.stdout) == pytest.approx(150.0, abs=0.1)


def test_folders_are_compared_song_by_song(songs, tmp_path):
    import shutil

    a, b, music = tmp_path / "run_a", tmp_path / "run_b", tmp_path / "music"
    for d in (a, b, music):
        d.mkdir()
    for k, s in enumerate(songs):
        shutil.copy(s["motion"], a / f"song{k}.npz")
        shutil.copy(s["music"], music / f"song{k}.wav")
    shutil.copy(songs[1]["motion"], b / "song1.npz")
    page = view_dance([str(a), str(b), "--music", str(music), "--out", str(tmp_path / "cmp.html"), "--no_beats"])
    scenes = read_page_meta(page)["scenes"]
    assert [s["name"] for s in scenes] == ["song0", "song1"]
    assert [[lane["name"] for lane in s["lanes"]] for s in scenes] == [["run_a"], ["run_a", "run_b"]]
    assert [s["audio"]["name"] for s in scenes] == ["song0.wav", "song1.wav"] and scenes[1]["beats"] == []
    with pytest.raises(SystemExit):  # one song's beats cannot serve several songs
        view_dance([str(a), str(b), "--beats", str(music / "song0.wav"), "--out", str(tmp_path / "x.html")])
