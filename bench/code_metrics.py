"""Code metrics of the package layers (the layers issue's before/after numbers); prints JSON.

Static scan (ast) of the project's Python files, tests and benches left out, of the working tree or of a git
revision (`--rev`, read with `git archive`):
- package edges: imports (function-level ones too) from one top-level folder to another; the root scripts are "cli";
- 2-cycles: pairs of folders importing each other, counted two ways: by folder, and with the seed's command-line
  scripts that must stay inside package folders (`MMR/train_mmr.py`, `MMR/mmr_music_feat256.py`, `MMR/eval_mmr.py`,
  `data/motion_representation/src/*.py`) counted as CLIs;
- the longest file, functions over 60 lines, typed public functions (every argument and the return annotated),
  `getattr(opt, ...)` reads, lines over 120 and 100 characters, `# fmt: skip` markers.

    python bench/code_metrics.py                 # the working tree
    python bench/code_metrics.py --rev 7209432   # the tree before the layers issue
"""

from __future__ import annotations

import argparse
import ast
import json
import re
import subprocess
import tarfile
import tempfile
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SKIP = {".venv", "tests", "bench", "outputs", "node_modules", "checkpoints"}
SEED_CLIS = {("MMR", "train_mmr.py"), ("MMR", "mmr_music_feat256.py"), ("MMR", "eval_mmr.py")}


def owner(rel: tuple[str, ...], packages: set[str], cli_aware: bool) -> str:
    """The folder a file belongs to ("cli" for the root scripts and, when `cli_aware`, the seed's scripts)."""
    if len(rel) == 1 or rel[0] not in packages:
        return "cli"
    if cli_aware and (rel in SEED_CLIS or rel[:3] == ("data", "motion_representation", "src")):
        return "cli"
    return rel[0]


def imported(tree: ast.AST) -> list[str]:
    """Absolute module names a file imports, wherever the import stands."""
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            out.append(node.module)
    return out


def function_stats(tree: ast.AST, where: str) -> tuple[list[str], int, int]:
    """(functions over 60 lines, public functions, typed public functions) of one file."""
    long, public, typed = [], 0, 0
    for node in ast.walk(tree):
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        n = node.end_lineno - node.lineno + 1
        if n > 60:
            long.append(f"{where}:{node.name} ({n})")
        if not node.name.startswith("_"):
            public += 1
            args = [a for a in node.args.args + node.args.kwonlyargs if a.arg not in ("self", "cls")]
            typed += node.returns is not None and all(a.annotation is not None for a in args)
    return long, public, typed


def scan(root: Path) -> dict:
    files = sorted(p for p in root.rglob("*.py") if not SKIP & set(p.relative_to(root).parts))
    packages = {p.relative_to(root).parts[0] for p in files if len(p.relative_to(root).parts) > 1}
    parsed = {p: ast.parse(p.read_text()) for p in files}
    cycles = {}
    for cli_aware in (False, True):
        edges = Counter()
        for p, tree in parsed.items():
            me = owner(p.relative_to(root).parts, packages, cli_aware)
            edges.update((me, m.split(".")[0]) for m in imported(tree) if m.split(".")[0] in packages - {me})
        pairs = sorted({tuple(sorted(e)) for e in edges if e[::-1] in edges})
        cycles["by_folder" if not cli_aware else "seed_scripts_as_clis"] = [f"{a}<->{b}" for a, b in pairs]
        if not cli_aware:
            package_edges = {f"{a}->{b}": n for (a, b), n in sorted(edges.items())}
    long, public, typed, longest = [], 0, 0, (0, "")
    lines = over100 = over120 = getattr_opt = fmt_skip = 0
    for p, tree in parsed.items():
        text = p.read_text()
        rows = text.splitlines()
        where = str(p.relative_to(root))
        longest = max(longest, (len(rows), where))
        lines += len(rows)
        over100 += sum(len(r) > 100 for r in rows)
        over120 += sum(len(r) > 120 for r in rows)
        getattr_opt += len(re.findall(r"getattr\((?:self\.)?opt\b", text))
        fmt_skip += text.count("fmt: skip")
        f_long, f_public, f_typed = function_stats(tree, where)
        long, public, typed = long + f_long, public + f_public, typed + f_typed
    return {
        "files": len(files),
        "two_cycles": cycles,
        "longest_file": {"lines": longest[0], "file": longest[1]},
        "functions_over_60_lines": long,
        "typed_public_functions": f"{typed}/{public} = {100 * typed / public:.0f} %",
        "getattr_opt": getattr_opt,
        "lines_over_120": over120,
        "lines_over_100": f"{over100}/{lines} = {100 * over100 / lines:.0f} %",
        "fmt_skip": fmt_skip,
        "package_edges": package_edges,
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rev", help="a git revision to scan instead of the working tree")
    args = p.parse_args()
    if args.rev is None:
        report = scan(REPO)
    else:
        with tempfile.TemporaryDirectory() as tmp:
            archive = subprocess.run(["git", "archive", args.rev], cwd=REPO, capture_output=True, check=True).stdout
            with tempfile.TemporaryFile() as f:
                f.write(archive)
                f.seek(0)
                tarfile.open(fileobj=f).extractall(tmp, filter="data")
            report = scan(Path(tmp))
    print(json.dumps({"rev": args.rev or "working tree", **report}, indent=1))


if __name__ == "__main__":
    main()
