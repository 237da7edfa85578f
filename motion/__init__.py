"""The motion representation: the 52-joint skeleton, rotations, forward and inverse kinematics, the 623/723/263-d
features and their `MotionLayout`, BVH, the SMPL-X model path, splicing one motion into another, and the project's
frame conventions (`frame.FPS`: 30 fps; Y up; metres). It depends on generic utilities (`utils`) only: data, models,
evaluation and generation build on it (an import-linter contract in `make test` keeps it so)."""
