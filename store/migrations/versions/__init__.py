"""Migration scripts, one per schema version, named ``NNNN_description.py``."""
