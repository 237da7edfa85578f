"""The package layers as pyproject.toml declares them: every package is in the import-linter contract, and no script
or default output folder can shadow a package."""

import tomllib

from tests.conftest import REPO

PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())


def packages() -> set[str]:
    return {p.parent.name for p in REPO.glob("*/__init__.py")} - {"tests"}


def test_every_package_is_a_layer_of_the_contract():
    linter = PYPROJECT["tool"]["importlinter"]
    (contract,) = linter["contracts"]
    layers = {name.strip() for layer in contract["layers"] for name in layer.split("|")}
    assert set(linter["root_packages"]) == packages() == layers
    included = {p.rstrip("*") for p in PYPROJECT["tool"]["setuptools"]["packages"]["find"]["include"]}
    assert included == packages()


def test_no_script_or_output_folder_shadows_a_package():
    """A script's folder comes first on sys.path: `bench/generate.py` would hide a package named `generate` from
    every bench script, and gen_m2m writes into `generation/` by default."""
    scripts = {
        p.stem
        for folder in ("", "bench", "tests", "MMR", "data/motion_representation/src")
        for p in (REPO / folder).glob("*.py")
    }
    assert not packages() & scripts
    assert not packages() & {"generation", "checkpoints", "outputs", "runs"}
