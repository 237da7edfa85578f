"""Benchmark: the viewer page of 1- and 10-minute dances against the mp4; prints JSON (the .glb: gltf_export.py).

    python bench/viewer.py [--minutes 1 10] [--lanes 2] [--mp4_minutes 1] [--dir outputs]
    python bench/viewer.py --screenshot outputs/demo/generation/test/viewer.html --at 6 --out docs/viewer.png

A synthetic song and its dance (`data.synthetic_dance`, 52 joints, music as wav) of each length: the page of one
lane with the music and of `--lanes` lanes (the dance and shifted copies), its size, build time, and in headless
Chromium (software rendering) the time from opening the file to the first drawn frame, the mean time of one full
redraw of every lane (a 60 fps display allows 16.7 ms) and, playing for 3 s, the frames drawn per second and how far
the music's clock went; the mp4 render time of `--mp4_minutes` of such a dance. `--screenshot PAGE` instead takes the
picture of a page at `--at` seconds (the README's, from `make demo`'s test split).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from data.formats import load_motion
from data.synthetic_dance import plan_song, write_pair
from export.render import render_skeleton_video
from export.viewer import Lane, Scene, write_viewer
from export.viewer.browser import ViewerPage, browser_or_skip, chromium
from utils.timing import machine_info


def timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return out, round(time.perf_counter() - t0, 3)


def browser_numbers(page: Path) -> dict:
    with chromium() as browser:
        t0 = time.perf_counter()
        view = ViewerPage(browser, page)
        load_s = time.perf_counter() - t0
        draw_ms = view.page.evaluate("() => window.soulViewer.drawMs(300)")
        view.seek(1.0)
        before = view.state()["draws"]
        view.page.evaluate("() => window.soulViewer.play()")
        view.page.wait_for_timeout(3000)
        state = view.state()
        view.page.evaluate("() => window.soulViewer.pause()")
        errors = view.errors() + view.network()
    return {
        "open_to_first_frame_s": round(load_s, 3),
        "redraw_ms": round(draw_ms, 3),
        "playing_frames_per_s": round((state["draws"] - before) / 3.0, 1),
        "music_clock_s_after_3s": round(state["t"] - 1.0, 2),
        "errors": errors,
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--minutes", type=float, nargs="+", default=[1, 10], help="dance lengths")
    p.add_argument("--lanes", type=int, default=2, help="lanes of the side-by-side page")
    p.add_argument("--mp4_minutes", type=float, default=1, help="minutes of mp4 rendered for comparison (0: none)")
    p.add_argument("--dir", type=Path, default=Path("outputs"), help="scratch folder")
    p.add_argument("--screenshot", type=Path, help="a viewer page to take a picture of (nothing else is measured)")
    p.add_argument("--at", type=float, default=6.0, help="--screenshot: the time shown (s)")
    p.add_argument("--out", type=Path, default=Path("docs/viewer.png"), help="--screenshot: the picture")
    args = p.parse_args()
    skip = browser_or_skip()
    if args.screenshot is not None:
        if skip:
            raise SystemExit(skip)
        with chromium() as browser:
            view = ViewerPage(browser, args.screenshot, f"#t={args.at}", size=(1280, 640))
            view.page.screenshot(path=str(args.out))
        print(json.dumps({"screenshot": str(args.out), "page": str(args.screenshot), "at_s": args.at}))
        return
    args.dir.mkdir(parents=True, exist_ok=True)
    rows = {}
    with tempfile.TemporaryDirectory(dir=args.dir) as folder:
        folder = Path(folder)
        for minutes in args.minutes:
            pair = write_pair(plan_song(7, minutes * 60), folder)
            joints = load_motion(pair["motion"]).joints  # (T, 52, 3)
            row = {"frames": len(joints)}
            lanes = [Lane("dance", joints)] + [
                Lane(f"copy {k}", joints + [k * 0.3, 0, 0]) for k in range(1, args.lanes)
            ]
            for name, scene_lanes in (("1 lane", lanes[:1]), (f"{args.lanes} lanes", lanes)):
                page = folder / f"{minutes}min_{len(scene_lanes)}.html"
                scene = Scene("song", scene_lanes, pair["music"])
                _, build_s = timed(lambda page=page, scene=scene: write_viewer(page, [scene]))
                entry = {"page_MB": round(page.stat().st_size / 1e6, 3), "build_s": build_s}
                entry |= {"browser": skip} if skip else browser_numbers(page)
                row[name] = entry
            rows[f"{minutes:g} min"] = row
        if args.mp4_minutes > 0:
            pair = write_pair(plan_song(8, args.mp4_minutes * 60), folder)
            joints = load_motion(pair["motion"]).joints
            music = pair["music"]
            _, seconds = timed(lambda: render_skeleton_video(joints, folder / "d.mp4", 30.0, audio=music))
            rows[f"mp4 of {args.mp4_minutes:g} min"] = {
                "render_s": seconds,
                "mp4_MB": round((folder / "d.mp4").stat().st_size / 1e6, 3),
            }
    print(json.dumps({"benchmark": "viewer", "machine": machine_info(), "results": rows}, indent=1))


if __name__ == "__main__":
    main()
