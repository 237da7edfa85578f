"""Motion tokenizers: EMA quantizer, residual / hierarchical residual quantization, conv encoder-decoder."""
