"""Evaluation: every dance metric (`evaluation.metrics`, each matching its published reference number for number),
the published protocols (`protocols`), reading motion files for evaluation (`inputs`), the folder evaluation of
`eval_dance.py` (`evaluate`), and the evaluations of the trained models (`tokenizer`: `eval_vq.py` and the tokenizer
stage's validation; `transformer`: the transformer stages' validation and generation's scores).

Layer: above `models` and `MMR`, below training, export and generation (docs/architecture.md)."""
