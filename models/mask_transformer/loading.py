"""Trained transformers rebuilt from their checkpoints alone: `load_m2m` / `load_res`, and `load_mage`, everything
generation needs (the transformers, the tokenizer they were trained on, the MMR of their clip condition), each
upstream checked by the fingerprint recorded at training time."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from MMR.embedder import MMREmbedder, load_mmr, resolve_checkpoint
from models.mask_transformer.transformer import MaskTransformer, ResidualTransformer, TransformerConfig
from models.vq.loading import load_vq
from utils.checkpoint import check_upstream, file_fingerprint, load_checkpoint, load_weights, rebuild_config
from utils.cli import UserError
from utils.devices import autocast_dtype
from utils.runs import find_run

# 2: per-part token embeddings and heads, the residual transformer's part order and `known` input (format 1 shared one
# table and head across parts: its weights do not load)
TRANSFORMER_FORMAT = 2


def load_transformer(
    checkpoints_dir: str | Path,
    dataset: str,
    name: str,
    stage: str,
    which: str = "latest",
    device: str | torch.device = "cpu",
) -> tuple[torch.nn.Module, dict]:
    """A trained masked (`stage` "m2m") or residual ("res") transformer rebuilt from its checkpoint, and the
    checkpoint (its tokenizer run, music configuration and statistics)."""
    run = find_run(checkpoints_dir, dataset, name)
    ckpt = load_checkpoint(run / "model" / f"{which}.tar", map_location=device)
    if ckpt.get("stage") != stage or "transformer" not in ckpt:
        raise UserError(
            f"{run}: not a {'masked' if stage == 'm2m' else 'residual'} transformer checkpoint "
            f"(stage {ckpt.get('stage')!r})"
        )
    if ckpt.get("transformer_format", 1) < TRANSFORMER_FORMAT:
        raise UserError(
            f"{run}: a transformer trained before per-part token embeddings and heads (one table for "
            "every part's codes); retrain it with train_m2m.py / train_res.py"
        )
    path = run / "model" / f"{which}.tar"
    config = rebuild_config(TransformerConfig, ckpt["transformer"], path, "transformer")
    model = (MaskTransformer if stage == "m2m" else ResidualTransformer)(config)
    load_weights(model, ckpt["model"], path)
    return model.to(device).eval(), ckpt


def load_m2m(checkpoints_dir: str | Path, dataset: str, name: str, **kw) -> tuple[MaskTransformer, dict]:
    return load_transformer(checkpoints_dir, dataset, name, "m2m", **kw)


def load_res(checkpoints_dir: str | Path, dataset: str, name: str, **kw) -> tuple[ResidualTransformer, dict]:
    return load_transformer(checkpoints_dir, dataset, name, "res", **kw)


@dataclass
class MAGEModels:
    """Everything generation needs, rebuilt from the transformer checkpoints alone.

    Args:
        base, res: the masked and (optional) residual transformers; base_ckpt: the masked one's checkpoint.
        vq, vq_mean, vq_std: the tokenizer they were trained on and its normalisation.
        mmr: the MMR that made the clip embeddings (None for `frame` conditioning or when its file is gone).
        music_mean, music_std: the frame-level music normalisation.
        bf16: run the transformers and the decoder under bf16 autocast (`speed_up`); sampling stays fp32.
    """

    base: MaskTransformer
    res: ResidualTransformer | None
    base_ckpt: dict
    vq: torch.nn.Module
    vq_mean: torch.Tensor
    vq_std: torch.Tensor
    mmr: MMREmbedder | None
    music_mean: torch.Tensor
    music_std: torch.Tensor
    bf16: bool = False

    @property
    def music(self) -> dict:
        """The music configuration (music_type, music_mode, music_cond, clip_type, clip_mmr, ...)."""
        return self.base_ckpt["music"]

    def condition(self, music: torch.Tensor, clip: torch.Tensor | None) -> tuple[torch.Tensor | None, torch.Tensor]:
        """(clip condition, normalised frame-level music) from raw music features (B, T, Dm) and the windows' MMR
        embeddings (B, Dc) (a model conditioned on frames only ignores the latter)."""
        return clip, (music - self.music_mean) / self.music_std

    @torch.no_grad()
    def decode(self, tokens: torch.Tensor) -> torch.Tensor:
        """Dataset features (B, T, D) of tokens (B, L, Q), fp32."""
        with self.autocast():
            return self.vq.decode(tokens).float() * self.vq_std + self.vq_mean

    def autocast(self) -> torch.autocast:
        """The autocast context of the models' forward passes (bf16 when `speed_up` asked for it)."""
        return torch.autocast(self.music_mean.device.type, dtype=torch.bfloat16, enabled=self.bf16)

    def speed_up(self, mixed_precision: str = "auto", compile: bool = False, backend: str = "inductor") -> MAGEModels:
        """`--mixed_precision` (auto: bf16 on GPU, fp32 on CPU) and `--compile` (the transformers' and the decoder's
        forward passes compiled in place by torch.compile's `backend`) for generation."""
        cpu = self.music_mean.device.type == "cpu"
        self.bf16 = autocast_dtype(mixed_precision, cpu) == "bf16"
        if compile:
            for model in (self.base, self.res, self.vq.decoder):
                if model is not None:
                    model.compile(dynamic=True, backend=backend)  # window lengths and guidance batches vary
        return self


def load_mage(
    checkpoints_dir: str | Path,
    dataset: str,
    name: str,
    res_name: str | None = None,
    vq_name: str | None = None,
    which: str = "latest",
    device: str | torch.device = "cpu",
    mmr_run: str | Path | None = None,
) -> MAGEModels:
    """The masked transformer `name`, the residual `res_name` (optional), their tokenizer (recorded in the
    checkpoint; `vq_name`, when given, must be the same run) and the MMR of their clip condition (recorded;
    `mmr_run` overrides it)."""
    base, ckpt = load_m2m(checkpoints_dir, dataset, name, which=which, device=device)
    res = None
    if res_name:
        res, res_ckpt = load_res(checkpoints_dir, dataset, res_name, which=which, device=device)
        if not same_upstream(res_ckpt["tokenizer"], ckpt["tokenizer"], "run"):
            raise UserError(
                f"{name!r} and {res_name!r} were trained on different tokenizers "
                f"({ckpt['tokenizer']['run']} vs {res_ckpt['tokenizer']['run']}); train both on one"
            )
        for key in ("music_type", "clip_mmr_fingerprint"):
            a, b = res_ckpt["music"].get(key), ckpt["music"].get(key)
            if a != b and (key == "music_type" or None not in (a, b)):  # one conditioned on frames only: no MMR
                raise UserError(
                    f"{name!r} and {res_name!r} read different music ({key}: {ckpt['music'].get(key)} "
                    f"vs {res_ckpt['music'].get(key)}); train both on one dataset's features"
                )
    tokenizer = ckpt["tokenizer"]
    run, vq_which = tokenizer["run"], tokenizer.get("which", "latest")
    if vq_name and find_run(checkpoints_dir, dataset, vq_name).name != run:
        raise UserError(f"{name!r} was trained on tokenizer {run!r}, not {vq_name!r}")
    vq, vq_ckpt = load_vq(checkpoints_dir, dataset, run, which=vq_which, device=device)
    check_upstream(
        find_run(checkpoints_dir, dataset, run) / "model" / f"{vq_which}.tar",
        tokenizer.get("fingerprint"),
        f"tokenizer {run!r}",
        f"transformer {name!r}",
        f"retrain {name!r} (train_m2m.py/train_res.py --overwrite) or restore the tokenizer it was trained on",
    )
    mmr = _clip_mmr(mmr_run, ckpt["music"], name, device)
    uses_clip = [m for m in (base, res) if m is not None and m.config.music_cond in ("clip", "both")]
    if uses_clip and mmr is None:
        recorded = ckpt["music"].get("clip_mmr") or "not recorded"
        raise UserError(
            f"{name!r} is conditioned on MMR embeddings but its MMR ({recorded}) is not available; pass "
            "the MMR run (--mmr_run)"
        )
    return MAGEModels(
        base,
        res,
        ckpt,
        vq,
        vq_ckpt["mean"].float().to(device),
        vq_ckpt["std"].float().to(device),
        mmr,
        ckpt["music_mean"].to(device),
        ckpt["music_std"].to(device),
    )


def same_upstream(a: dict, b: dict, name: str) -> bool:
    """Whether two records of an upstream checkpoint name the same one: by content fingerprint when both have one
    (older records have none), else by `name` (the run)."""
    if a.get("fingerprint") and b.get("fingerprint"):
        return a["fingerprint"] == b["fingerprint"]
    return a.get(name) == b.get(name)


def _clip_mmr(mmr_run: str | Path | None, music: dict, name: str, device) -> MMREmbedder | None:
    """The MMR that made the clip embeddings `name` was trained on: `mmr_run` (a run folder: its best or latest
    checkpoint, whichever has the recorded content; a file) or the recorded file; a different MMR is refused."""
    recorded, fingerprint = music.get("clip_mmr"), music.get("clip_mmr_fingerprint")
    if mmr_run is None:
        if not recorded or not Path(recorded).is_file():
            return None
        path = Path(recorded)
    else:
        run = Path(mmr_run)
        candidates = (
            [run]
            if run.is_file()
            else [p for p in (run / "model" / "best.tar", run / "model" / "latest.tar") if p.is_file()]
        )
        if not candidates:
            resolve_checkpoint(run)  # the one-line "no MMR checkpoint" error
        path = next((p for p in candidates if fingerprint and file_fingerprint(p) == fingerprint), candidates[0])
    check_upstream(
        path,
        fingerprint,
        "the MMR",
        f"transformer {name!r}",
        f"pass the MMR run that embedded its training music (recorded: {recorded}) with --mmr_run, or retrain {name!r}",
    )
    return load_mmr(path, device=device)
