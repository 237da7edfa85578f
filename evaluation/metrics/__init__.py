"""Dance metrics, one module per family, each matching its published reference implementation number for number
(quirks available as explicit options) so numbers are comparable with published tables; see docs/metrics.md."""
