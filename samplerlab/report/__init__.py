"""Reports: the HTML report, charts, explanations as text and HTML, terminal rendering.
May import: runs, understand and below; never app or cli, never llama_cpp or gradio."""
