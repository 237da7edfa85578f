"""What a generation writes: the files of each dance and the page of their folder (`gen_m2m.py --formats`)."""

from __future__ import annotations

from utils.cli import UserError

DANCE_FORMATS = ("npz", "bvh", "glb", "mp4")  # the files of one dance, `<name>.<format>`
PAGE_FORMAT = "html"  # the viewer page of a folder of dances (`viewer.html`)
FORMATS = DANCE_FORMATS[:3] + (PAGE_FORMAT, "mp4")


def parse_formats(text: str) -> tuple[str, ...]:
    """`--formats npz,bvh,...` -> the formats in `FORMATS` order; the npz is always written (it marks a finished
    dance). An unknown name is a one-line error."""
    names = {n.strip().lower().lstrip(".") for n in text.split(",") if n.strip()}
    unknown = sorted(names - set(FORMATS))
    if unknown:
        raise UserError(f"unknown output format(s) {', '.join(unknown)}; choose from {', '.join(FORMATS)}")
    return tuple(f for f in FORMATS if f in names | {"npz"})
