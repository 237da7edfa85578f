"""The bad-input catalogue: every `CATALOGUE_*` table of bad or boundary inputs in the test modules, counted.

    python -m tests.test_catalogue      # the counts as JSON (docs/reliability.md)

Each table is run through the command(s) that read its inputs by its own module's tests; this module checks that the
catalogue covers every kind of input the commands read and prints its size.
"""

from __future__ import annotations

import importlib
import json

MODULES = (
    "test_bad_input",
    "test_motion_scripts",
    "test_eval_dance",
    "test_audio",
    "test_options_validation",
    "test_audio_cache",
    "test_bad_checkpoints",
)
# kind of input -> the tables that hold it
KINDS = {
    "motion formats": ("CATALOGUE_MOTION", "CATALOGUE_JOINTS", "CATALOGUE_PICKLES"),
    "BVH": ("CATALOGUE_BVH",),
    "outputs vs inputs": ("CATALOGUE_OUTPUTS",),
    "eval inputs and beats": ("CATALOGUE_EVAL_FILES", "CATALOGUE_EVAL_CLI"),
    "audio": ("CATALOGUE_AUDIO", "CATALOGUE_MUSIC_CACHE", "CATALOGUE_MUSIC_FILES"),
    "options": (
        "CATALOGUE_OPTIONS",
        "CATALOGUE_OPTIONS_OTHER_PARSERS",
        "CATALOGUE_MMR_OVERRIDES",
        "CATALOGUE_ACCEPTED",
    ),
    "checkpoints": ("CATALOGUE_CHECKPOINTS",),
}


def catalogue() -> dict[str, int]:
    """Table name -> number of cases, over `MODULES`."""
    counts = {}
    for name in MODULES:
        module = importlib.import_module(f"tests.{name}")
        counts.update({k: len(v) for k, v in vars(module).items() if k.startswith("CATALOGUE_")})
    return counts


def test_the_catalogue_covers_every_kind_of_input():
    counts = catalogue()
    missing = [t for tables in KINDS.values() for t in tables if t not in counts]
    assert not missing, f"tables gone: {missing}"
    assert all(counts[t] > 0 for tables in KINDS.values() for t in tables)
    assert sum(counts.values()) >= 60


if __name__ == "__main__":
    counts = catalogue()
    by_kind = {kind: sum(counts.get(t, 0) for t in tables) for kind, tables in KINDS.items()}
    print(json.dumps({"tables": counts, "kinds": by_kind, "total": sum(counts.values())}, indent=1))
