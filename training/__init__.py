"""The training stages, each filling in the hooks of the one loop (`utils.trainer.Trainer`): the tokenizer
(`tokenizer`, `train_vq.py`), the masked and residual transformers (`transformer`, `train_m2m.py` / `train_res.py`)
and the music-motion retrieval model (`mmr`, `MMR/train_mmr.py`).

Layer: above `evaluation` (validation scores the models with its metrics), below the CLIs (docs/architecture.md)."""
