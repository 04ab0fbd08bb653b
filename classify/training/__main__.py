"""``make model``: ``python -m chartclerk.classify.training [--rebuild-corpus] [--workers N]``."""

from chartclerk.classify.training.trainer import main

main()
