"""Music features: the 35-d librosa baseline (EDGE recipe), Jukebox layer-66 representations, and their registry."""
