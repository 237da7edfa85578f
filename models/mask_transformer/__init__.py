"""MAGE: masked (base layer) and residual (finer layers) token transformers conditioned on music."""
