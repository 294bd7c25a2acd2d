"""Scripts that make the small weights in assets/models (python -m playground.train.<name>)."""
