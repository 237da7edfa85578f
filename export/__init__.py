"""A dance as things people open: the rigid skeleton fit and the npz / BVH / glb / mp4 files (`dance`, `gltf`,
`render`), the one-page web viewer (`viewer`), and the plots of motion and feature files (`plot_inputs`,
`feature_plot`).

Layer: above `evaluation` (the viewer shows music beats), below generation and the CLIs (docs/architecture.md)."""
