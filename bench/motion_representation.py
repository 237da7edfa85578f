"""Benchmark: joints -> 623-d features and 623 -> joints for one hour of 30 fps motion; prints JSON.

    python bench/motion_representation.py [--minutes 60] [--repeats 3]
The motion is generated (`data/synthetic_dance.py`), so the benchmark runs on any machine.
"""

from __future__ import annotations

import argparse
import json
import time

from data.synthetic_dance import synthesize_dance
from motion.features import joints_to_features, recover_from_ric
from motion.kinematics import fk_axis_angle
from utils.timing import best_of, machine_info


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--minutes", type=float, default=60.0, help="length of the motion, minutes")
    p.add_argument("--repeats", type=int, default=3, help="timed repeats (the best is reported)")
    args = p.parse_args(argv)
    n = int(args.minutes * 60 * 30)
    motion = synthesize_dance(n)
    t0 = time.perf_counter()
    joints = fk_axis_angle(motion.poses, motion.trans)
    fk_s = time.perf_counter() - t0
    feats = joints_to_features(joints).features
    result = {
        "benchmark": "motion_representation",
        "frames": n,
        "fps": 30,
        "joints": int(joints.shape[1]),
        "fk_axis_angle_s": round(fk_s, 3),
        "joints_to_623_s": round(best_of(lambda: joints_to_features(joints), args.repeats), 3),
        "623_to_joints_s": round(best_of(lambda: recover_from_ric(feats), args.repeats), 3),
        "machine": machine_info(),
    }
    print(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
