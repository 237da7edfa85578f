"""The project's frame conventions: one frame rate, one up axis, metres.

Every motion inside the project is at `FPS` frames per second (frame t is at t / FPS s), Y up, in metres; readers
bring other rates and Z-up sources to it (`data.formats.motion.to_project_frame`).
"""

from __future__ import annotations

import numpy as np

FPS = 30  # frame rate inside the project
UP_AXES = ("y", "z")  # the up axes a source may have
# Z-up -> Y-up: a rotation of -90 degrees about X, (x, y, z) -> (x, z, -y).
Z_TO_Y_UP = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, -1.0, 0.0]])
