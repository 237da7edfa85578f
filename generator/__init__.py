"""Dances from music: the music features of a song or split (`music_input`), `gen_m2m.py`'s generation and scoring
(`dances`), and editing a given dance (`editing`: in-betweening, new hands/face/body, variations, continuation).

Layer: the top library layer, below the CLIs (docs/architecture.md)."""
