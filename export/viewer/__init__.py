"""The self-contained web viewer of dances (`page.py` builds it; `viewer.js` draws it in the browser)."""

from export.viewer.page import Lane, Scene, build_page, write_viewer

__all__ = ["Lane", "Scene", "build_page", "write_viewer"]
