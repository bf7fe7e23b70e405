"""Files: bounded reads of untrusted YAML/JSON (safe_yaml), leftovers of interrupted atomic writes, model files.
May import: the standard library and PyYAML only; nothing else of samplerlab."""
