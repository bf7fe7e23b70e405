"""Runs: experiment files, the runner, result files and their shape, comparisons, metrics, the benchmark.
May import: backends, llama and below; never understand, report, app or cli; llama_cpp only through llama."""
