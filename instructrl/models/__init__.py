"""Model loading (tiny / smollm2-135m / HF dir / hub id), heads, LoRA, generation, log-probs."""

from .generation import Generation, GenerationBackend, HFGenerator, generate, generate_text, sample_documents
from .loader import (
    PAD_TOKEN,
    LoraConfig,
    ModelConfig,
    build_tiny,
    cache_dir,
    count_parameters,
    ensure_pad_token,
    load_causal_lm,
    load_tokenizer,
    resolve_spec,
    smollm2_dir,
    smollm2_gguf_path,
)
from .logprobs import hidden_states, lm_loss_sum, sequence_logprobs, token_logprobs

__all__ = [
    "PAD_TOKEN",
    "Generation",
    "GenerationBackend",
    "HFGenerator",
    "LoraConfig",
    "ModelConfig",
    "build_tiny",
    "cache_dir",
    "count_parameters",
    "ensure_pad_token",
    "generate",
    "generate_text",
    "hidden_states",
    "lm_loss_sum",
    "load_causal_lm",
    "load_tokenizer",
    "resolve_spec",
    "sample_documents",
    "sequence_logprobs",
    "smollm2_dir",
    "smollm2_gguf_path",
    "token_logprobs",
]
