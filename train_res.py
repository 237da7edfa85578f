"""Train the residual transformer (quantizer layers 1..Q-1) of MAGE on a processed dataset, conditioned on its music.

    python3 train_res.py --name res_hrvq5 --gpu_id 0 --dataset_name souldance --vq_name hrvq5_souldance \\
        --cond_drop_prob 0.1 --lr 2e-4 --gamma 0.1 --latent_dim 256 --n_heads 6 --mmr_loss --hrvq

Needs the tokenizer run `--vq_name` (train_vq.py) and, for `--music_cond clip|both` (default both), the dataset's
MMR window features (`MMR/mmr_music_feat256.py`; a `--music_dir` that does not exist falls back to them, saying so).
The run goes to `<checkpoints_dir>/<dataset_name>/<name>/`: `opt.txt`, `opt.json`, `model/latest.tar`,
`model/best.tar` (highest validation token accuracy), TensorBoard logs. Several GPUs: `accelerate launch
--multi_gpu --num_processes N train_res.py ...`. Resume: add `--is_continue`.
"""

from __future__ import annotations

from options.train_options import transformer_parser
from training.transformer import ResidualTrainer, train_transformer
from utils.cli import setup_logging, user_errors_exit


@user_errors_exit
def main(argv: list[str] | None = None) -> dict:
    setup_logging()
    return train_transformer(ResidualTrainer, transformer_parser(__doc__).parse_args(argv))


if __name__ == "__main__":
    main()
