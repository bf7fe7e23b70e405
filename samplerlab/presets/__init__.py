"""Presets: the preset store, export to other tools' formats and import from them.
May import: samplerlab.events and below (words, schema, files); never llama_cpp or gradio."""
