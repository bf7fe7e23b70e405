"""Words: the English and Japanese texts of the app, the CLI's errors and the explanations.
May import: samplerlab.schema and samplerlab.files; never llama_cpp or gradio."""
