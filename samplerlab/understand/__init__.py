"""Understanding runs: where and why columns part (divergence), what-if replays, branching.
May import: backends, llama and below; never runs, report, app or cli; llama_cpp only through llama."""
