"""OpenAI-compatible serving of a Generator (the stack arrives here in the serving issue)."""
