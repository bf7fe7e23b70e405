"""`python -m samplerlab`: the `samplerlab` command."""

from .cli.main import main

if __name__ == "__main__":
    main(prog_name="samplerlab")
