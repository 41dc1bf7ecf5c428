"""Judges: each file one judge, registered by name."""
