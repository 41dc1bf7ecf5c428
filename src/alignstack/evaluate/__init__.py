"""Evaluation: suites, judges, metrics, reports. Judges share no code path or data with training."""
