"""LLM backends, all behind the `Generator` protocol (see base.py)."""
