"""The click CLI: every `samplerlab` command; commands that run a model load llama.cpp, the others never do.
May import: everything (the app only inside the command that serves it); never llama_cpp or gradio directly."""
