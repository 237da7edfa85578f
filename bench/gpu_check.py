"""GPU check: one command that measures every GPU row of docs/benchmarks.md; prints JSON and writes it to --out.

    python bench/gpu_check.py [--device cuda|cpu] [--tiny] [--out outputs/gpu_check.json] [--steps N]
                              [--budget_s S] [--peak_tflops T]

Rows, at paper size, random weights and inputs (the cost does not depend on them), each timed after a warm-up, with
the peak GPU memory of each row (`torch.cuda.max_memory_allocated`, reset between rows; null on the CPU):
- training samples/s of the HRVQ tokenizer on 723-d features (`bench/train_vq.py`), MMR with 4800-d Jukebox and
  35-d baseline music (`bench/mmr.py`, which also gives embedding clips/s) and the masked and residual transformers
  (`bench/train_m2m.py`), each in fp32, bf16 autocast and bf16 + `torch.compile`;
- model FLOPs utilisation (MFU) of the transformers' training steps (below);
- generation: seconds of compute per minute of dance for the `paper` and `fast` presets in fp32 and bf16, on a 60 s
  synthetic song (`bench/generate.py`).
Rows without compilation run first, then generation, then the compiled rows (compiling is the slow part).

MFU = FLOPs per step / seconds per step / the device's peak FLOP/s, with the FLOPs of one training step (forward and
backward) estimated as

    6 * N * B * S + 12 * n_layers * d * S^2 * B

N: the parameters every position goes through (the Transformer blocks and one part's output head, nb_code x
latent_dim; embedding look-ups and the per-time music MLP are left out); B: batch; S: positions the blocks see
(parts x times tokens plus the prefix tokens: the MMR clip token, and the residual transformer's step token);
d: n_heads x head width (the attention scores and their weighted sum). The peak is the dense bf16 one for bf16 rows
and fp32 (TF32 when torch allows it) for fp32 rows, looked up from `torch.cuda.get_device_name()` (H100 SXM and
H200: 989 bf16, 495 TF32, 67 fp32 TFLOP/s); MFU is null where the peak is unknown (the CPU) unless --peak_tflops.

A compiled row runs twice: once to compile (`compile_pass_s`), then timed. A row that raises is recorded with its
error and the next row runs; once --budget_s is spent, the rows left are recorded as skipped. The exit status is 1
when a row failed. `--tiny` runs tiny shapes and a 6 s song in every precision (the CPU test runs `--device cpu
--tiny`, so the script cannot rot).
"""

from __future__ import annotations

import argparse
import gc
import importlib.util
import json
import logging
import math
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache, partial
from pathlib import Path
from types import ModuleType

import torch

from generator.music_input import SongMusic
from models.mask_transformer.transformer import Block, TransformerConfig
from utils.cli import setup_logging
from utils.timing import machine_info, peak_memory_gib, reset_peak_memory

logger = logging.getLogger(__name__)


def _sibling(name: str) -> ModuleType:
    """A benchmark script of this folder as a module (bench/ is not a package; `train_vq` alone would also name
    the top-level CLI)."""
    spec = importlib.util.spec_from_file_location(f"bench_{name}", Path(__file__).with_name(f"{name}.py"))
    module = sys.modules[spec.name] = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


vq_bench, mmr_bench, m2m_bench, gen_bench = (_sibling(n) for n in ("train_vq", "mmr", "train_m2m", "generate"))

# Dense TFLOP/s (bf16, TF32, fp32) by a part of the device's name; the first match wins (so PCIe/NVL before SXM).
PEAK_TFLOPS = {
    "H100 PCIe": (756.0, 378.0, 51.2),
    "H100 NVL": (835.0, 417.5, 60.0),
    "H200 NVL": (835.0, 417.5, 60.0),
    "H100": (989.4, 494.7, 66.9),
    "H200": (989.4, 494.7, 66.9),
    "A100": (312.0, 156.0, 19.5),
}


@dataclass(frozen=True)
class Sizes:
    """Shapes, batches and lengths of every row.

    Args:
        vq, mmr, transformer: the model shapes of `bench/train_vq.py`, `bench/mmr.py`, `bench/train_m2m.py`,
            each with its training batch; vq_window: frames per window; mmr_frames, embed_batch: MMR clips.
        grid: the transformers' token grid (`bench/train_m2m.py` GRID).
        gen_tokenizer, gen_transformer, gen_mmr: the generation stack (None: `bench/generate.py`'s paper size).
        song_s: seconds of the generated song.
    """

    vq: tuple[dict, int] = field(default_factory=lambda: vq_bench.CONFIGS["paper"])
    vq_window: int = vq_bench.WINDOW
    mmr: tuple[dict, int] = field(default_factory=lambda: mmr_bench.CONFIGS["paper"])
    mmr_frames: int = mmr_bench.CLIP_FRAMES
    embed_batch: int = mmr_bench.EMBED_BATCH
    transformer: tuple[dict, int] = field(default_factory=lambda: m2m_bench.CONFIGS["paper"])
    grid: dict = field(default_factory=lambda: dict(m2m_bench.GRID))
    gen_tokenizer: dict | None = None
    gen_transformer: dict | None = None
    gen_mmr: dict | None = None
    song_s: float = 60.0


def tiny_sizes() -> Sizes:
    """A few thousand parameters per model (more where the 723-d / 4800-d inputs meet the first layer), batch 2.
    The tokenizer sees more latent vectors per part than it has codes (16 > 8), as at paper size (4096 > 512)."""
    vq = {"width": 16, "depth": 1, "nb_code": 8, "code_dim": 16, "num_quantizers": 2}
    mmr_shape = {"latent": 16, "ff": 32, "layers": 1, "heads": 2}
    transformer = {"latent_dim": 16, "n_layers": 1, "n_heads": 2, "ff_size": 32}
    codes = {"nb_code": 16, "num_quantizers": 2}
    return Sizes(
        vq=(vq, 2),
        vq_window=32,
        mmr=(mmr_shape, 2),
        mmr_frames=16,
        embed_batch=2,
        transformer=(transformer, 2),
        grid={**m2m_bench.GRID, **codes, "times": 4},
        gen_tokenizer={**gen_bench.TOKENIZER, **vq, **codes},
        gen_mmr=mmr_shape,
        song_s=6.0,
        gen_transformer={**gen_bench.TRANSFORMER, **transformer, **codes, "clip_dim": 16},
    )


@dataclass
class Row:
    """One measurement: what it is (`labels`, the first fields of its JSON row) and how to take it (`measure`,
    returning the measured fields)."""

    labels: dict
    measure: Callable[[], dict]


def transformer_flops(kind: str, shape: dict, grid: dict, batch: int) -> float:
    """FLOPs of one training step of the masked ("m2m") or residual ("res") transformer (module docstring)."""
    c = TransformerConfig(**grid, **shape)
    with torch.device("meta"):
        block_params = sum(p.numel() for p in Block(c).parameters())
    n = c.n_layers * block_params + c.nb_code * (c.latent_dim + 1)
    seq = c.parts * c.times + int(c.music_cond in ("clip", "both")) + int(kind == "res")
    d = c.n_heads * c.head_dim
    return 6 * n * batch * seq + 12 * c.n_layers * d * seq**2 * batch


def peak_tflops_for(name: str, bf16: bool, tf32: bool) -> float | None:
    """The dense peak TFLOP/s of the GPU called `name` at this precision (None when it is not in PEAK_TFLOPS)."""
    for key, (bf16_peak, tf32_peak, fp32_peak) in PEAK_TFLOPS.items():
        if key in name:
            return bf16_peak if bf16 else tf32_peak if tf32 else fp32_peak
    return None


def device_peak_tflops(device: str, bf16: bool, override: float | None) -> float | None:
    """`override`, else this CUDA device's peak at this precision, else None (the CPU, an unknown GPU)."""
    if override:
        return override
    if device != "cuda":
        return None
    return peak_tflops_for(torch.cuda.get_device_name(), bf16, torch.backends.cuda.matmul.allow_tf32)


def significant(x: float, digits: int = 4) -> float:
    """`x` rounded to `digits` significant digits (tiny models' TFLOP/s are not rounded to 0)."""
    return float(f"{x:.{digits}g}")


def rate_fields(samples_per_s: float, batch: int) -> dict:
    """samples/s and s/step of a training row."""
    rate, step = significant(samples_per_s), significant(batch / samples_per_s)
    return {"batch": batch, "samples_per_s": rate, "s_per_step": step}


def utilisation(flops: float, samples_per_s: float, batch: int, peak: float | None) -> dict:
    """Achieved model TFLOP/s and MFU (None without a peak) of a training step of `flops` FLOPs."""
    achieved = flops * samples_per_s / batch / 1e12
    return {
        "gflops_per_step": significant(flops / 1e9),
        "model_tflops_per_s": significant(achieved),
        "peak_tflops": peak,
        "mfu": significant(achieved / peak) if peak else None,
    }


def tokenizer_row(sizes: Sizes, steps: int, device: str, bf16: bool, compiled: bool) -> dict:
    """Training rate of the HRVQ tokenizer on 723-d features."""
    shape, batch = sizes.vq
    rate = vq_bench.step_rate("hrvq", 723, shape, batch, steps, device, bf16, compiled, sizes.vq_window)
    return rate_fields(rate, batch)


def mmr_row(sizes: Sizes, music_dim: int, steps: int, device: str, bf16: bool, compiled: bool) -> dict:
    """Training and embedding rates of MMR with `music_dim`-d music."""
    shape, batch = sizes.mmr
    rates = mmr_bench.measure(
        shape, batch, music_dim, steps, device, bf16, compiled, sizes.mmr_frames, sizes.embed_batch
    )
    return {**rate_fields(rates["train_clips_per_s"], batch), "embed_clips_per_s": rates["embed_clips_per_s"]}


def transformer_row(
    sizes: Sizes, kind: str, steps: int, device: str, bf16: bool, compiled: bool, peak: float | None
) -> dict:
    """Training rate and MFU of the masked ("m2m") or residual ("res") transformer."""
    shape, batch = sizes.transformer
    rate = m2m_bench.step_rate(kind, shape, batch, steps, device, bf16, compiled, sizes.grid)
    return {
        **rate_fields(rate, batch),
        **utilisation(transformer_flops(kind, shape, sizes.grid, batch), rate, batch, peak),
    }


@cache
def song(seconds: float) -> tuple[SongMusic, float]:
    """`bench/generate.py`'s synthetic song (SongMusic) and the seconds its features took, made once per length."""
    return gen_bench.synthetic_song(seconds)


def generation_row(sizes: Sizes, preset: str, bf16: bool, device: str) -> dict:
    """Seconds per minute of dance of one preset (`bench/generate.py`'s row). The models are built for each row, so
    that its peak memory is its own and nothing stays on the GPU after it."""
    music, features_s = song(sizes.song_s)
    mage = gen_bench.paper_models(device, sizes.gen_tokenizer, sizes.gen_transformer, sizes.gen_mmr)
    dance_s = gen_bench.dance_seconds(mage, music, gen_bench.PRESETS[preset], device, bf16, repeats=1)
    return {
        "seconds_of_music": round(music.frames / 30, 2),
        "features_s": round(features_s, 2),
        **gen_bench.preset_row(preset, bf16, dance_s, features_s, music.frames),
    }


def labels(stage: str, bf16: bool, compiled: bool | str, **extra) -> dict:
    """The fields that name a row (`compiled`: False or the torch.compile backend)."""
    return {
        "stage": stage,
        **extra,
        "precision": "bf16" if bf16 else "fp32",
        "compile": bool(compiled),
        **({"compile_backend": compiled} if compiled else {}),
    }


VARIANTS = {"fp32": (False, False), "bf16": (True, False), "bf16+compile": (True, True), "fp32+compile": (False, True)}


DEFAULT_VARIANTS = ("fp32", "bf16", "bf16+compile")


def plan(
    sizes: Sizes,
    steps: int,
    device: str,
    peak_override: float | None,
    variants: tuple[str, ...] = DEFAULT_VARIANTS,
    backend: str = "inductor",
) -> list[Row]:
    """Every row, in the order they run (`run_order`): the training stages in each of `variants` (compiled ones
    with `backend`), generation in the variants' precisions."""
    rows = []
    for bf16, compile_model in (VARIANTS[v] for v in variants):
        peak = device_peak_tflops(device, bf16, peak_override)
        compiled = backend if compile_model else False
        run = {"steps": steps, "device": device, "bf16": bf16, "compiled": compiled}
        rows.append(
            Row(labels("tokenizer", bf16, compiled, vq_type="hrvq", dim=723), partial(tokenizer_row, sizes, **run))
        )
        rows += [Row(labels("mmr", bf16, compiled, music_dim=m), partial(mmr_row, sizes, m, **run)) for m in (4800, 35)]
        rows += [
            Row(labels(stage, bf16, compiled), partial(transformer_row, sizes, kind, peak=peak, **run))
            for stage, kind in (("masked", "m2m"), ("residual", "res"))
        ]
    precisions = sorted({VARIANTS[v][0] for v in variants})
    rows += [
        Row(labels("generation", bf16, False, preset=p), partial(generation_row, sizes, p, bf16, device))
        for bf16 in precisions
        for p in gen_bench.PRESETS
    ]
    return sorted(rows, key=run_order)


# Compiled rows, most wanted first (the budget drops the last): the transformers' MFU, then MMR, then the tokenizer,
# whose quantizer dropout and codebook resets branch at random (graph breaks, a compile per layer count).
COMPILED_ORDER = (("masked", None), ("residual", None), ("mmr", 4800), ("tokenizer", None), ("mmr", 35))


def run_order(row: Row) -> tuple[int, int]:
    """Training rows without compilation, generation, then the compiled training rows in COMPILED_ORDER."""
    r = row.labels
    if r["compile"]:
        return 2 + (r["precision"] == "fp32"), COMPILED_ORDER.index((r["stage"], r.get("music_dim")))
    return (1 if r["stage"] == "generation" else 0), 0


def measure_once_compiled(row: Row) -> dict:
    """The row's measurement; a compiled row first runs once untimed from a fresh dynamo cache, which compiles every
    graph its (seeded, hence identical) timed run will meet (the tokenizer's quantizer dropout and codebook resets
    branch at random, so its first run recompiles between steps), then runs again: `compile_pass_s` is that first
    run, compilation included."""
    if not row.labels["compile"]:
        return row.measure()
    torch.compiler.reset()
    t0 = time.perf_counter()
    row.measure()
    compile_s = time.perf_counter() - t0
    return {**row.measure(), "compile_pass_s": round(compile_s, 2)}


def run_row(row: Row, device: str) -> dict:
    """The row's labels and measurements, its peak GPU memory and wall time; its error if it raised."""
    reset_peak_memory(device)
    t0 = time.perf_counter()
    try:
        measured = {**measure_once_compiled(row), "error": None}
    except Exception as err:  # any failure: recorded, and the rest of a (precious) GPU session still runs
        logger.exception("%s failed", row.labels)
        measured = {"error": f"{type(err).__name__}: {err}"}
    out = {
        **row.labels,
        **measured,
        "peak_memory_gib": peak_memory_gib(device),
        "wall_s": round(time.perf_counter() - t0, 2),
    }
    gc.collect()
    if device == "cuda":
        torch.cuda.empty_cache()
    return out


def run_rows(rows: list[Row], device: str, budget_s: float) -> list[dict]:
    """Every row's result; rows not started within `budget_s` seconds are recorded as skipped."""
    t0, out = time.perf_counter(), []
    for i, row in enumerate(rows, 1):
        spent = time.perf_counter() - t0
        if spent >= budget_s:
            out.append({**row.labels, "skipped": f"time budget spent ({spent:.0f} s of --budget_s {budget_s:g})"})
            logger.warning("row %d/%d %s skipped: time budget spent", i, len(rows), row.labels)
            continue
        out.append(run_row(row, device))
        logger.info("row %d/%d %s", i, len(rows), json.dumps(out[-1]))
    return out


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument(
        "--device",
        default="cuda" if torch.cuda.is_available() else "cpu",
        choices=["cuda", "cpu"],
        help="where to measure",
    )
    p.add_argument("--tiny", action="store_true", help="tiny shapes and a 6 s song (tests the code paths)")
    p.add_argument("--out", type=Path, default=Path("outputs/gpu_check.json"), help="JSON file to write")
    p.add_argument("--steps", type=int, default=None, help="timed training steps per row (default 10; 1 with --tiny)")
    p.add_argument(
        "--budget_s",
        type=float,
        default=None,
        help="seconds after which the rows left are skipped (default 420; none with --tiny)",
    )
    p.add_argument("--peak_tflops", type=float, default=None, help="peak TFLOP/s for MFU (default: by GPU name)")
    p.add_argument(
        "--variants",
        nargs="+",
        default=list(DEFAULT_VARIANTS),
        choices=list(VARIANTS),
        help="precision / compile settings of the training rows (generation: their precisions)",
    )
    p.add_argument(
        "--compile_backend",
        default="inductor",
        help="torch.compile backend of the compiled rows (aot_eager: graph capture without code "
        "generation, much faster to compile on a CPU)",
    )
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> dict:
    """Run every row; returns the JSON it prints and writes (`failed` counts the rows that raised)."""
    args = parse_args(argv)
    setup_logging()
    steps = args.steps or (1 if args.tiny else 10)
    budget_s = args.budget_s if args.budget_s is not None else math.inf if args.tiny else 420.0
    sizes = tiny_sizes() if args.tiny else Sizes()
    t0 = time.perf_counter()
    rows = run_rows(
        plan(sizes, steps, args.device, args.peak_tflops, tuple(args.variants), args.compile_backend),
        args.device,
        budget_s,
    )
    result = {
        "benchmark": "gpu_check",
        "device": args.device,
        "tiny": args.tiny,
        "steps": steps,
        "budget_s": budget_s if budget_s < math.inf else None,
        "total_s": round(time.perf_counter() - t0, 1),
        "failed": sum(r.get("error") is not None for r in rows),
        "skipped": sum("skipped" in r for r in rows),
        "rows": rows,
        "machine": machine_info(args.device),
    }
    text = json.dumps(result, indent=2)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text + "\n")
    print(text)
    logger.info(
        "wrote %s: %d rows, %d failed, %d skipped, %.0f s",
        args.out,
        len(rows),
        result["failed"],
        result["skipped"],
        result["total_s"],
    )
    return result


if __name__ == "__main__":
    sys.exit(1 if main()["failed"] else 0)
