"""Export and post-training quantisation: GGUF through the `gguf` package (f32, f16, bf16, Q8_0,
Q4_0, Q4_1, Q5_0, Q5_1), LoRA adapters as GGUF LoRA, and the report every artefact carries."""
