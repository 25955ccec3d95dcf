"""Torch modules built from derived constraints (see issue 3)."""
