"""llama.cpp: loading models, the batched engine, llama.cpp's samplers, replay, text streaming, versions.
May import: llama_cpp, chats, presets, events and below; never backends or anything above, never gradio."""
