"""The Gradio app: its shared state (workbench), views, widgets, tabs and panels, share-mode limits.
May import: everything but samplerlab.cli; the only part that imports gradio; llama_cpp only through llama."""
