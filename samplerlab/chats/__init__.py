"""Chats: conversations from SillyTavern, Open WebUI and OpenAI files, and the policy that fits them to a context.
May import: samplerlab.events and below (words, schema, files); never llama_cpp or gradio."""
