"""Paper A's LLM check (Jiang et al. 2024 §5; spec §3): concept directions in a causal LM's
input embedding vs its unembedding, their alignment and orthogonality; plus the toy Llama
trained on latent-concept text for the offline default (``toy_lm``)."""
