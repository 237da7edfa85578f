"""MMR: music-motion retrieval (TMR-style encoders into a shared space, contrastive + reconstruction training)."""
