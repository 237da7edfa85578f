"""bench/gpu_check.py: the tiny CPU run measures every row in every precision; the FLOPs, peak and MFU arithmetic;
a failing row is recorded and rows past the time budget are skipped."""

import importlib.util
import json
import math
import sys

import pytest

from tests.conftest import REPO

TRAINING_STAGES = ("tokenizer", "mmr", "masked", "residual")
VARIANTS = {("fp32", False), ("bf16", False), ("bf16", True)}  # (precision, torch.compile)


@pytest.fixture(scope="module")
def gpu_check():
    """bench/gpu_check.py as a module, registered in sys.modules while the tests run (its dataclasses look their
    module up there, which `conftest.load_script` does not provide)."""
    spec = importlib.util.spec_from_file_location("bench_gpu_check", REPO / "bench" / "gpu_check.py")
    module = sys.modules[spec.name] = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    yield module
    del sys.modules[spec.name]


def positive(x) -> bool:
    return isinstance(x, float) and math.isfinite(x) and x > 0


def test_tiny_cpu_run_measures_every_row_in_every_precision(gpu_check, tmp_path):
    """Every row of the GPU command on tiny models. The compiled rows use aot_eager (dynamo's graph capture and
    AOTAutograd, where compilation usually breaks): inductor's C++ code generation of the five models takes 4-5
    minutes on this 2-core CPU; the training tests compile a transformer and the quantizer with inductor."""
    out = tmp_path / "g.json"
    result = gpu_check.main(["--device", "cpu", "--tiny", "--out", str(out), "--compile_backend", "aot_eager"])
    assert json.loads(out.read_text()) == result
    rows = result["rows"]
    assert [r for r in rows if r.get("error") is not None or "skipped" in r] == []
    assert result["failed"] == result["skipped"] == 0 and result["machine"]["cores"] >= 1
    for stage in TRAINING_STAGES:
        stage_rows = [r for r in rows if r["stage"] == stage]
        assert {(r["precision"], r["compile"]) for r in stage_rows} == VARIANTS, stage
        assert all(positive(r["samples_per_s"]) and positive(r["s_per_step"]) for r in stage_rows), stage
    mmr = [r for r in rows if r["stage"] == "mmr"]
    assert sorted(r["music_dim"] for r in mmr) == [35] * 3 + [4800] * 3
    assert all(positive(r["embed_clips_per_s"]) for r in mmr)
    transformers = [r for r in rows if r["stage"] in ("masked", "residual")]
    assert all(positive(r["model_tflops_per_s"]) and r["mfu"] is None for r in transformers)  # no CPU peak
    generation = [r for r in rows if r["stage"] == "generation"]
    assert {(r["preset"], r["precision"]) for r in generation} == {
        (p, q) for p in ("paper", "fast") for q in ("fp32", "bf16")
    }
    assert all(positive(r["dance_s_per_minute"]) and r["seconds_of_music"] == 6.0 for r in generation)
    assert len(rows) == 5 * 3 + 4 and all(r["peak_memory_gib"] is None for r in rows)  # GPU memory: null on the CPU
    compiled = [i for i, r in enumerate(rows) if r["compile"]]
    assert compiled == list(range(len(rows) - 5, len(rows)))  # compiled rows last: the budget drops them first
    assert all(positive(rows[i]["compile_pass_s"]) and rows[i]["compile_backend"] == "aot_eager" for i in compiled)


def test_transformer_flops_match_a_count_by_hand(gpu_check):
    shape = {"latent_dim": 16, "n_layers": 2, "n_heads": 2, "ff_size": 32}
    grid = {"nb_code": 16, "parts": 3, "times": 4, "num_quantizers": 2, "clip_dim": 8, "music_dim": 5}
    d, ff = 16, 32  # 2 heads of 8
    block = 2 * 2 * d + (d * 3 * d + 3 * d) + (d * d + d) + (d * ff + ff) + (ff * d + d)  # 2 norms, qkv, out, ff
    n = 2 * block + 16 * (d + 1)  # the blocks and one output head
    for kind, seq in (("m2m", 3 * 4 + 1), ("res", 3 * 4 + 2)):  # clip prefix token (+ the residual step token)
        expected = 6 * n * 5 * seq + 12 * 2 * d * seq**2 * 5
        assert gpu_check.transformer_flops(kind, shape, grid, batch=5) == expected


def test_peak_by_gpu_name_and_mfu(gpu_check):
    assert gpu_check.peak_tflops_for("NVIDIA H100 80GB HBM3", bf16=True, tf32=False) == 989.4
    assert gpu_check.peak_tflops_for("NVIDIA H100 80GB HBM3", bf16=False, tf32=True) == 494.7
    assert gpu_check.peak_tflops_for("NVIDIA H100 PCIe", bf16=True, tf32=False) == 756.0
    assert gpu_check.peak_tflops_for("NVIDIA H200", bf16=False, tf32=False) == 66.9
    assert gpu_check.peak_tflops_for("NVIDIA GeForce RTX 4090", bf16=True, tf32=False) is None
    assert gpu_check.device_peak_tflops("cpu", True, None) is None
    assert gpu_check.device_peak_tflops("cpu", True, 100.0) == 100.0
    u = gpu_check.utilisation(flops=2e12, samples_per_s=64.0, batch=32, peak=100.0)  # 2 steps/s of 2 TFLOP
    assert u["model_tflops_per_s"] == 4.0 and u["mfu"] == 0.04
    assert gpu_check.utilisation(flops=2e12, samples_per_s=64.0, batch=32, peak=None)["mfu"] is None


def test_a_failing_row_is_recorded_and_rows_past_the_budget_are_skipped(gpu_check):
    def out_of_memory():
        raise RuntimeError("CUDA out of memory")

    rows = [
        gpu_check.Row(gpu_check.labels("masked", True, False), out_of_memory),
        gpu_check.Row(gpu_check.labels("residual", True, False), lambda: {"samples_per_s": 1.5}),
    ]
    first, second = gpu_check.run_rows(rows, "cpu", budget_s=60)
    assert first["error"] == "RuntimeError: CUDA out of memory" and first["stage"] == "masked"
    assert second["error"] is None and second["samples_per_s"] == 1.5
    late = gpu_check.run_rows(rows, "cpu", budget_s=0)
    assert all("skipped" in r and "error" not in r for r in late)
