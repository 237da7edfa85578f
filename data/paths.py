"""Where datasets and their derived files live by default: `data/<dataset_name>/` under the repository.

`DANCE_DATA_DIR` moves the base folder (default: the repository's `data/`); SoulDance may also sit in
`SoulDance_data/` (the seed README's folder). Every CLI also takes explicit paths, which win over these defaults.
"""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
DATASET_ALIASES = {"findance": "finedance", "aist": "aistpp", "aist++": "aistpp"}  # seed spellings
DEFAULT_DATASET = "souldance"


def canonical_dataset(name: str) -> str:
    """The dataset's canonical name (`findance` -> `finedance`)."""
    return DATASET_ALIASES.get(name.lower(), name.lower())


def data_base_dir() -> Path:
    """The folder holding one sub-folder per dataset."""
    return Path(os.environ.get("DANCE_DATA_DIR", REPO_ROOT / "data"))


def dataset_dir(name: str = DEFAULT_DATASET, data_root: str | Path | None = None) -> Path:
    """`data_root` when given, else `<base>/<name>`, else `SoulDance_data/` for souldance when only that exists."""
    if data_root is not None:
        return Path(data_root)
    name = canonical_dataset(name)
    folder = data_base_dir() / name
    legacy = REPO_ROOT / "SoulDance_data"
    if name == "souldance" and not folder.exists() and legacy.exists() and "DANCE_DATA_DIR" not in os.environ:
        return legacy
    return folder
