"""Principle-driven synthetic data: a YAML flow of distilabel-style tasks (topics → questions →
answers → critique → revision → judge), resumable per stage, then selection and export as Q-A-C,
TRL preference pairs and unpaired KTO/BCO records."""
