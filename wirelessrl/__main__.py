"""``python -m wirelessrl``: the command line, e.g. under ``torchrun -m wirelessrl train d2d``."""

from wirelessrl.cli import main

if __name__ == "__main__":
    main(prog_name="wirelessrl")
