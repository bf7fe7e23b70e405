"""Schema: every knob (params), load settings, `name=value` assignments, stage order (chains), the docs made from them.
May import: samplerlab.files; never llama_cpp or gradio."""
