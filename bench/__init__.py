"""Benchmarks and regression scripts, run from the repository root as modules (`python -m bench.vs_hf`).
Their records (`bench/records/`) are what README.md and docs/ show (`python -m bench.tables`)."""
