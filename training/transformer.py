"""The masked (`train_m2m.py`) and residual (`train_res.py`) transformer stages, and `load_m2m` / `load_res`.

Both read (motion, music) windows of a processed dataset whose tokens are cut from the token streams of the whole
sequences, encoded once by the frozen tokenizer (`--vq_name`, rebuilt from its checkpoint; its Mean/Std normalise
the motion) and cached per tokenizer checkpoint (`token_streams`), and condition on the window's music:
the MMR embedding of the window (`mmr` features written by `MMR/mmr_music_feat256.py`, or a `--music_dir` of the
same per-song tables) and/or frame-level features (`--music_type`, normalised with statistics stored in the
checkpoint). Masked: cosine-schedule masking of the base layer, cross-entropy on the masked positions. Residual:
a layer j drawn uniformly from 1..Q-1 and (with `part_order`) a part p, cross-entropy on part p's positions of
layer j with the coarser parts' layer-j codes given. Continuation (`--cont_prob`): a window's first `--cont_tokens`
token times are given in every layer, never masked nor scored, as long-form generation gives each window its
overlap. Validation: token accuracy under a fixed masking (seeded), and dances generated from the music alone and
decoded from generated layers only (the masked stage: the base layer alone; the residual stage: its layers over the
ground-truth base it is conditioned on), `best.tar` by `--best_metric`. Checkpoints record the transformer config, the
tokenizer run and the fingerprint of its checkpoint, the music configuration and statistics, so `load_m2m` /
`load_res` rebuild all of it (and refuse a tokenizer retrained since).
"""

from __future__ import annotations

import argparse
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from data.loaders import MusicMotionClips, ProcessedData, in_batches
from data.paths import dataset_dir
from evaluation.transformer import HIGHER_IS_BETTER, dance_metrics
from MMR.embedder import MMREmbedder, load_mmr
from MMR.losses import info_nce
from models.mask_transformer.loading import TRANSFORMER_FORMAT
from models.mask_transformer.masking import mask_tokens
from models.mask_transformer.sampling import (
    COND_SCALE,
    RES_COND_SCALE,
    RES_TEMPERATURE,
    generate_base,
    generate_residual,
)
from models.mask_transformer.token_streams import token_streams
from models.mask_transformer.tokens import TokenGrid
from models.mask_transformer.transformer import MaskTransformer, ResidualTransformer, TransformerConfig
from models.vq.loading import load_vq
from training.mmr import music_statistics
from utils.checkpoint import (
    check_upstream,
    file_fingerprint,
    load_checkpoint,
    upstream_record,
)
from utils.cli import UserError
from utils.runs import dataset_runs, find_run
from utils.stage_config import LoopConfig
from utils.trainer import Trainer

logger = logging.getLogger(__name__)
CLIP_TYPE = "mmr"


@dataclass(frozen=True, kw_only=True)
class TransformerStageConfig(LoopConfig):
    """What `train_m2m.py` / `train_res.py`'s stages read (`options.train_options.transformer_parser`; defaults
    there).

    Args:
        dataset_name: the processed dataset (`data/<dataset_name>/` unless `data_root`).
        data_root: the processed dataset's folder, when not the default.
        checkpoints_dir: root of the run folders (the tokenizer's run is found there).
        vq_name: the tokenizer run (`train_vq.py --vq_name` or `--name`).
        music_type: frame-level music features (a registered type).
        music_dir: a folder of MMR window features per song (default or missing: the dataset's own).
        music_cond: music conditioning: "clip" (the MMR embedding), "frame" (frame-level features) or "both".
        latent_dim, ff_size, n_layers, n_heads, dim_head, dropout: the transformer's shape (`TransformerConfig`).
        cond_drop_prob: condition dropout (classifier-free guidance).
        random_prob: share of the masked positions replaced by a random code.
        mask_prob: of the others, the share that becomes [MASK].
        mmr_run: the MMR of the MMR loss (default: the one that made the dataset's `mmr` features).
        mmr_loss_weight, mmr_temperature, gumbel_tau: the MMR loss's weight, InfoNCE temperature and Gumbel-softmax
            temperature.
        eval_time_steps: unmasking steps of the validation's generated dances.
        best_metric: the validation metric that picks `best.tar`.
        vq_which: the tokenizer checkpoint trained on ("latest" or "best").
        hrvq: the seed's flag: checked against the tokenizer's type.
        mmr_loss: add the MMR loss (generated tokens' MMR embedding against the music's).
        part_order: residual stage: each layer part by part (body -> hands -> face), coarser parts given.
        eval_windows: validation windows generated and scored with the dance metrics (0 or 1: none).
        cont_prob: share of training windows whose first `cont_tokens` token times are given (continuation).
        cont_tokens: token times given to a continued window.
    """

    dataset_name: str
    data_root: Path | None
    checkpoints_dir: Path
    vq_name: str
    music_type: str
    music_dir: str | None
    music_cond: str
    latent_dim: int
    ff_size: int
    n_layers: int
    n_heads: int
    dim_head: int | None
    dropout: float
    cond_drop_prob: float
    random_prob: float
    mask_prob: float
    mmr_run: str | None
    mmr_loss_weight: float
    mmr_temperature: float
    gumbel_tau: float
    eval_time_steps: int
    best_metric: str = "acc"
    vq_which: str = "latest"
    hrvq: bool = False
    mmr_loss: bool = False
    part_order: bool = False
    eval_windows: int = 0
    cont_prob: float = 0.0
    cont_tokens: int = 0

    def shape(self) -> dict:
        """The `TransformerConfig` fields these options set (the rest comes from the tokenizer and the data)."""
        names = ("latent_dim", "ff_size", "n_layers", "n_heads", "dim_head", "dropout", "cond_drop_prob")
        return {**{n: getattr(self, n) for n in names}, "music_cond": self.music_cond, "part_order": self.part_order}


class TokenTrainer(Trainer):
    """What both transformer stages share: data, the frozen tokenizer, conditioning, checkpoint contents."""

    model_class: type = MaskTransformer

    config_class = TransformerStageConfig

    def __init__(self, opt: argparse.Namespace, run_dir: Path) -> None:
        super().__init__(opt, run_dir)
        self.best_metric = self.cfg.best_metric
        self.best_higher = HIGHER_IS_BETTER[self.best_metric]

    def build_data(self):
        cfg = self.cfg
        data = ProcessedData(dataset_dir(cfg.dataset_name, cfg.data_root))
        self._load_tokenizer(int(data.mean.shape[0]))
        down = self.vq.config.downsampling
        self.use_clip = cfg.music_cond in ("clip", "both")
        self.mmr_loss = cfg.mmr_loss
        clip_type = CLIP_TYPE if self.use_clip or self.mmr_loss else None  # the MMR loss compares with them too
        self.clip_dir = self._clip_dir(data, cfg.music_dir) if clip_type else None
        # the MMR checkpoint that made the clip embeddings (recorded: generation embeds new music with it)
        self.clip_mmr = self._clip_mmr_record(data) if clip_type else None
        kwargs = {
            "music_type": cfg.music_type,
            "unit_length": down,
            "normalize": False,
            "clip_type": clip_type,
            "clip_dir": self.clip_dir,
        }
        train = MusicMotionClips(data, "train", seed=cfg.seed, **kwargs)
        splits = data.summary.get("clips_per_split", {})
        val_split = next((s for s in ("val", "test") if splits.get(s)), None)
        val = MusicMotionClips(data, val_split, deterministic=True, **kwargs) if val_split else None
        clips = np.unique(np.concatenate([train.clip] + ([val.clip] if val is not None else [])))
        with self.accelerator.main_process_first():  # the main process encodes, the others read its cache
            self.streams = token_streams(
                self.vq,
                self.vq_fingerprint,
                self.vq_run.name,
                data,
                clips.tolist(),
                self.vq_mean.numpy(),
                self.vq_std.numpy(),
                self.device,
            )
        mean, std = music_statistics(train)
        self.music_mean, self.music_std = torch.as_tensor(mean), torch.as_tensor(std)
        self.music_mode, self.clip_dim = train.mode, 0 if train.clip_rows is None else int(train.clip_rows.shape[1])
        self.times = train.length // down
        self.mmr = self._load_mmr(data, cfg) if self.mmr_loss else None
        self.eval_mmr = self.mmr if self.mmr is not None else self._evaluation_mmr(data, cfg.music_type)
        return train, val

    def _load_tokenizer(self, dim: int) -> None:
        """The frozen tokenizer (`--vq_name`, `--vq_which`) of `dim`-wide features, its normalisation and the record
        of its checkpoint; a resumed run refuses a tokenizer retrained since."""
        cfg = self.cfg
        which = cfg.vq_which
        self.vq, vq_ckpt = load_vq(cfg.checkpoints_dir, cfg.dataset_name, cfg.vq_name, dim=dim, which=which)
        if cfg.hrvq and self.vq.config.vq_type != "hrvq":
            raise UserError(f"--hrvq given but tokenizer {cfg.vq_name!r} is a {self.vq.config.vq_type}")
        self.vq_run = find_run(cfg.checkpoints_dir, cfg.dataset_name, cfg.vq_name)
        self.vq.requires_grad_(False)
        self.vq_mean, self.vq_std = vq_ckpt["mean"].float(), vq_ckpt["std"].float()
        self.vq_record = upstream_record(
            self.vq_run / "model" / f"{which}.tar", run=self.vq_run.name, which=which, vq_type=self.vq.config.vq_type
        )
        self.vq_fingerprint = self.vq_record["fingerprint"]
        latest = self.model_dir / "latest.tar"
        if cfg.is_continue and latest.is_file():  # before encoding with a changed tokenizer
            saved = load_checkpoint(latest, mmap=True).get("tokenizer", {})
            check_upstream(
                self.vq_record["file"],
                saved.get("fingerprint"),
                f"tokenizer {self.vq_run.name!r}",
                f"run {self.run_dir.name!r}",
                "resume with the checkpoint it was trained on or start the run again (--overwrite)",
            )

    @staticmethod
    def _evaluation_mmr(data: ProcessedData, music_type: str) -> MMREmbedder | None:
        """The MMR of the validation's matching score: the one that made the dataset's `mmr` features, if any and if
        it reads the frame-level music type the transformer reads."""
        checkpoint = data.summary["music"].get(CLIP_TYPE, {}).get("checkpoint")
        if not checkpoint or not Path(checkpoint).is_file():
            return None
        mmr = load_mmr(checkpoint)
        return mmr if mmr.music_type == music_type else None

    @staticmethod
    def _clip_mmr_record(data: ProcessedData) -> dict | None:
        """The file and content fingerprint of the MMR that made the dataset's clip embeddings (refused when that
        file changed since it made them); None when it is not recorded or gone (the embeddings still train)."""
        info = data.summary["music"].get(CLIP_TYPE, {})
        path = info.get("checkpoint")
        if not path:
            return None
        if not Path(path).is_file():  # moved or deleted: what the summary recorded (generation checks --mmr_run)
            return {"file": path, "fingerprint": info.get("fingerprint")}
        check_upstream(
            path,
            info.get("fingerprint"),
            "the MMR",
            f"the {CLIP_TYPE} music features of {data.root}",
            "embed the music again with MMR/mmr_music_feat256.py",
        )
        return upstream_record(path)

    def _load_mmr(self, data: ProcessedData, cfg: TransformerStageConfig) -> MMREmbedder:
        """The frozen MMR of the MMR loss: `--mmr_run`, else the run that made the dataset's `mmr` features."""
        run = cfg.mmr_run or data.summary["music"].get(CLIP_TYPE, {}).get("checkpoint")
        if not run:
            raise UserError("--mmr_loss needs the MMR that made the music embeddings: pass --mmr_run <MMR run folder>")
        mmr = load_mmr(run)
        mmr.model.requires_grad_(False)
        self.mmr_loss_fingerprint = file_fingerprint(mmr.source)  # once: what was loaded, not what is there later
        if mmr.model.config.latent != self.clip_dim:
            raise UserError(
                f"{mmr.source}: a {mmr.model.config.latent}-d MMR, but the music embeddings are "
                f"{self.clip_dim}-d; embed the music with this MMR (MMR/mmr_music_feat256.py)"
            )
        return mmr

    @staticmethod
    def _clip_dir(data: ProcessedData, music_dir: str | None) -> Path:
        """The MMR features used as clip condition: `--music_dir` when it exists, else the dataset's own."""
        if music_dir and Path(music_dir).is_dir():
            return Path(music_dir)
        registered, _ = data.music_dir(CLIP_TYPE)  # one line naming mmr_music_feat256.py when missing
        if music_dir:
            logger.warning("--music_dir %s does not exist: using the dataset's MMR features %s", music_dir, registered)
        return registered

    def build_model(self):
        vq = self.vq.config
        self.model_config = TransformerConfig(
            **self.cfg.shape(),
            nb_code=vq.nb_code,
            parts=len(self.vq.parts),
            times=self.times,
            num_quantizers=vq.num_quantizers,
            clip_dim=self.clip_dim if self.use_clip else 256,
            music_dim=len(self.music_mean),
            downsampling=vq.downsampling,
        )
        self.vq.to(self.device)
        self.norm = {k: getattr(self, k).to(self.device) for k in ("vq_mean", "vq_std", "music_mean", "music_std")}
        if self.mmr is not None:
            self.mmr.model.to(self.device)
            self.mmr.device = self.device
        return self.model_class(self.model_config)

    def inputs(self, batch: dict) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor]:
        """(tokens (B, L, Q), clip condition (B, Dc) or None, normalised frame-level music (B, T, Dm)); the tokens are
        cut from the whole sequences' token streams."""
        n = self.norm
        tokens = self.streams.windows(batch["clip"], batch["start"], self.times).to(self.device)
        clip = batch["music_clip"].to(self.device) if self.use_clip else None
        music = (batch["music"].to(self.device) - n["music_mean"]) / n["music_std"]
        return tokens, clip, music

    def checkpoint_extra(self) -> dict:
        music = {
            "music_type": self.cfg.music_type,
            "music_mode": self.music_mode,
            "music_cond": self.cfg.music_cond,
            "clip_type": CLIP_TYPE if self.use_clip else None,
            "clip_dir": str(self.clip_dir) if self.clip_dir else None,
            "clip_mmr": self.clip_mmr["file"] if self.clip_mmr else None,
            "clip_mmr_fingerprint": self.clip_mmr["fingerprint"] if self.clip_mmr else None,
        }
        mmr_loss = (
            {
                "weight": self.cfg.mmr_loss_weight,
                "temperature": self.cfg.mmr_temperature,
                "gumbel_tau": self.cfg.gumbel_tau,
                "mmr": self.mmr.source,
                "fingerprint": self.mmr_loss_fingerprint,
            }
            if self.mmr is not None
            else None
        )
        return {
            "transformer": self.model_config.to_dict(),
            "transformer_format": TRANSFORMER_FORMAT,
            "music": music,
            "mmr_loss": mmr_loss,
            "continuation": self.continuation_options(),
            "tokenizer": self.vq_record,
            "music_mean": self.music_mean,
            "music_std": self.music_std,
        }

    @torch.no_grad()
    def evaluate(self, model, dataset) -> dict[str, float]:
        generator = torch.Generator(device=self.device).manual_seed(0)  # the same masks at every validation
        correct = total = 0.0
        losses = []
        for batch in in_batches(dataset, self.cfg.batch_size):
            out = self.predict(model, batch, generator)
            logits, target, where = out["logits"], out["target"], out["where"]
            correct += float((logits.argmax(-1) == target)[where].sum())
            total += float(where.sum())
            losses.append(float(F.cross_entropy(logits[where], target[where])))
        metrics = {"acc": correct / max(total, 1), "ce": float(np.mean(losses))}
        n = min(self.cfg.eval_windows, len(dataset))
        if n >= 2:  # generated windows, decoded: the dance metrics
            batch = dataset.__getitems__(np.unique(np.linspace(0, len(dataset) - 1, n).round().astype(int)).tolist())
            tokens, clip, music = self.inputs(batch)
            valid = torch.ones(tokens.shape[:2], dtype=torch.bool, device=self.device)
            tokens = self.generate(model, tokens, valid, clip, music, generator)
            gen = (self.vq.decode(tokens).float() * self.norm["vq_std"] + self.norm["vq_mean"]).cpu()
            raw_music = batch["music"].numpy()
            beats = [np.flatnonzero(m[:, -1]) for m in raw_music] if self.cfg.music_type == "baseline" else None
            metrics.update(
                dance_metrics(
                    batch["motion"].numpy(),
                    gen.numpy(),
                    beats,
                    self.eval_mmr,
                    raw_music if self.eval_mmr is not None else None,
                )
            )
        if self.best_metric not in metrics:
            logger.warning(
                "--best_metric %s is not measured here (%s): best.tar is not updated",
                self.best_metric,
                ", ".join(metrics),
            )
        return metrics

    def generate(self, model, tokens: torch.Tensor, valid: torch.Tensor, clip, music, generator) -> torch.Tensor:
        """Tokens (B, L, Q) to decode: this stage's layers generated from the music, no ground-truth layer beyond
        what the stage is conditioned on (the masked stage: the base alone, other layers -1)."""
        raise NotImplementedError

    def continuation_options(self) -> dict:
        return {"prob": float(self.cfg.cont_prob), "tokens": int(self.cfg.cont_tokens)}

    def given_prefix(self, batch_size: int, training: bool) -> torch.Tensor:
        """Bool (B, L): the positions given as a continued window's prefix (its first `--cont_tokens` token times, every
        part), in a `--cont_prob` share of the training windows; none in validation."""
        c, m = self.continuation_options(), self.model_config
        times = TokenGrid(m.parts, m.times).time_ids(self.device)  # (L,)
        if not training or c["prob"] <= 0 or c["tokens"] <= 0:
            return torch.zeros(batch_size, len(times), dtype=torch.bool, device=self.device)
        chosen = torch.rand(batch_size, device=self.device) < c["prob"]
        return chosen[:, None] & (times[None] < min(c["tokens"], m.times - 1))

    def training_step(self, model, batch) -> dict[str, torch.Tensor]:
        out = self.predict(model, batch)
        logits, target, where = out["logits"], out["target"], out["where"]
        losses = {"ce": F.cross_entropy(logits[where].float(), target[where])}
        losses["acc"] = (logits.argmax(-1) == target)[where].float().mean().detach()
        losses["loss"] = losses["ce"]
        if self.mmr is not None:
            losses["mmr"] = self.mmr_term(out, batch)
            losses["loss"] = losses["ce"] + self.cfg.mmr_loss_weight * losses["mmr"]
        return losses

    def mmr_term(self, out: dict, batch: dict) -> torch.Tensor:
        """InfoNCE between the MMR motion embedding of the decoded prediction and the window's music embedding.

        The predicted layer's codes become Gumbel-softmax weights (`--gumbel_tau`) where the loss applies (one-hot
        true codes elsewhere and in the other layers); the frozen tokenizer decodes them, the features are
        de-normalised, MMR-normalised and body-sliced, and the frozen MMR motion encoder embeds them."""
        tokens, logits = out["tokens"], out["logits"].float()
        weights = F.one_hot(tokens, self.model_config.nb_code).float()  # (B, L, Q, K)
        soft = F.gumbel_softmax(logits, tau=self.cfg.gumbel_tau, hard=False, dim=-1)  # (B, L, K)
        here = out["where"][:, :, None, None] & out["layer_mask"][:, None, :, None]  # (B, L, Q, 1)
        weights = torch.where(here, soft[:, :, None, :], weights)
        features = self.vq.decode_weights(weights) * self.norm["vq_std"] + self.norm["vq_mean"]
        z_motion = self.mmr.model.encode_motion(self.mmr.inputs.motion(features.float()))
        z_music = batch["music_clip"].to(self.device)
        return info_nce(z_motion, z_music, self.cfg.mmr_temperature, batch["sequence"].to(self.device))

    def predict(self, model, batch: dict, generator: torch.Generator | None = None) -> dict[str, torch.Tensor]:
        """logits (B, L, nb_code), target (B, L), where (B, L) bool (the positions scored), tokens (B, L, Q),
        layer_mask (B, Q) bool (the layer predicted) of a batch."""
        raise NotImplementedError


class MaskedTrainer(TokenTrainer):
    """`train_m2m.py`'s stage: the masked transformer on base-layer tokens."""

    stage = "m2m"
    model_class = MaskTransformer

    def predict(self, model, batch, generator=None):
        tokens, clip, music = self.inputs(batch)
        ids = tokens[..., 0]
        valid = torch.ones_like(ids, dtype=torch.bool)
        m = self.model_config
        given = self.given_prefix(len(ids), generator is None)  # a continued window's prefix: never masked
        x, chosen = mask_tokens(
            ids, valid, m.nb_code, m.nb_code, self.cfg.random_prob, self.cfg.mask_prob, generator=generator, given=given
        )
        drop = None if generator is None else torch.zeros(len(ids), dtype=torch.bool, device=ids.device)
        layer_mask = torch.zeros(len(ids), tokens.shape[-1], dtype=torch.bool, device=ids.device)
        layer_mask[:, 0] = True
        return {
            "logits": model(x, valid, clip, music, drop=drop),
            "target": ids,
            "where": chosen,
            "tokens": tokens,
            "layer_mask": layer_mask,
        }

    def generate(self, model, tokens, valid, clip, music, generator):
        out = torch.full_like(tokens, -1)  # the ground truth's residual layers are never decoded with a generated base
        out[..., 0] = generate_base(
            model, valid, clip, music, time_steps=self.cfg.eval_time_steps, cond_scale=COND_SCALE, generator=generator
        )
        return out


class ResidualTrainer(TokenTrainer):
    """`train_res.py`'s stage: the residual transformer on layers 1..Q-1."""

    stage = "res"
    model_class = ResidualTransformer

    def predict(self, model, batch, generator=None):
        tokens, clip, music = self.inputs(batch)
        b, q = tokens.shape[0], tokens.shape[-1]
        if q < 2:
            raise UserError("the tokenizer has one quantizer layer: there is nothing for a residual transformer")
        layer = torch.randint(1, q, (b,), device=tokens.device, generator=generator)
        c = self.model_config
        part_ids = TokenGrid(c.parts, c.times).part_ids(tokens.device)[None]  # (1, L)
        valid = torch.ones(tokens.shape[:2], dtype=torch.bool, device=tokens.device)
        if c.part_order and c.parts > 1:  # part p of layer j, the coarser parts' layer j given
            part = torch.randint(0, c.parts, (b,), device=tokens.device, generator=generator)
            known, where = part_ids < part[:, None], valid & (part_ids == part[:, None])
        else:
            part, known, where = torch.full_like(layer, -1), torch.zeros_like(valid), valid
        given = self.given_prefix(b, generator is None)
        known, where = known | given, where & ~given
        drop = None if generator is None else torch.zeros(b, dtype=torch.bool, device=tokens.device)
        target = tokens.gather(-1, layer[:, None, None].expand(-1, tokens.shape[1], 1))[..., 0]
        layer_mask = torch.arange(q, device=tokens.device)[None] == layer[:, None]
        logits = model(tokens, layer, valid, clip, music, drop=drop, known=known, part=part)
        return {"logits": logits, "target": target, "where": where, "tokens": tokens, "layer_mask": layer_mask}

    def generate(self, model, tokens, valid, clip, music, generator):
        return generate_residual(
            model,
            tokens[..., 0],
            valid,
            clip,
            music,
            cond_scale=RES_COND_SCALE,
            temperature=RES_TEMPERATURE,
            generator=generator,
        )


def train_transformer(trainer_class: type[TokenTrainer], args: argparse.Namespace) -> dict:
    """`train_m2m.py` / `train_res.py`: train on the parsed options into `<checkpoints_dir>/<dataset>/<name>/`."""
    run_dir = dataset_runs(args.checkpoints_dir, args.dataset_name) / args.name
    metrics = trainer_class(args, run_dir).fit()
    logger.info(
        "%s transformer run -> %s (%s)",
        "masked" if trainer_class.stage == "m2m" else "residual",
        run_dir,
        ", ".join(f"{k} {v:.4g}" for k, v in metrics.items()) or "no validation",
    )
    return metrics
