"""alignstack: align language models to a written set of principles."""

__version__ = "0.2.0"
