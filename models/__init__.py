"""Models: the motion tokenizers (`vq`), and later the token transformers."""
