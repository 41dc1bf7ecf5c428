"""The Aligner: a corrector model stacked over any upstream."""
