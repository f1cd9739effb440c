"""Speed benchmarks; `python bench/report.py` runs them all and writes docs/benchmarks.md."""
