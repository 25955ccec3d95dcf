"""Training and evaluation on set tasks (see issue 4)."""
