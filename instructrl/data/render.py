"""Prompt rendering and tokenization of demonstrations.

A prompt is rendered with the tokenizer's chat template when it has one (so an instruct
model sees the format it was trained on), else with a plain template. The response is
followed by EOS so the model learns to stop; with a chat template EOS is the template's
end-of-turn token (``<|im_end|>`` for ChatML).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .schemas import DataError, Demonstration, Prompt

PLAIN_TEMPLATE = "### Instruction:\n{prompt}\n\n### Response:\n"
IGNORE = -100


def has_chat_template(tokenizer: Any) -> bool:
    return bool(getattr(tokenizer, "chat_template", None))


def render_prompt(tokenizer: Any, prompt: Prompt, use_chat_template: bool = True) -> str:
    """The text the model is conditioned on, ending where the response begins."""
    if use_chat_template and has_chat_template(tokenizer):
        return tokenizer.apply_chat_template(prompt.as_messages(), add_generation_prompt=True, tokenize=False)
    return PLAIN_TEMPLATE.format(prompt=prompt.as_text())


@dataclass(frozen=True)
class Example:
    """One tokenized training example; ``labels[t] = IGNORE`` where no loss is taken.
    ``labels`` are aligned with ``input_ids`` (the shift happens in the loss)."""

    input_ids: tuple[int, ...]
    labels: tuple[int, ...]

    def __post_init__(self) -> None:
        if len(self.input_ids) != len(self.labels):
            raise ValueError(f"{len(self.input_ids)} input ids but {len(self.labels)} labels")
        # Nothing predicts an example's first token; in a packed row the state before it
        # belongs to the previous example, so a label there would leak across examples.
        if self.labels and self.labels[0] != IGNORE:
            raise ValueError("labels[0] must be IGNORE (no position predicts the first token)")

    def __len__(self) -> int:
        return len(self.input_ids)

    @property
    def n_loss_tokens(self) -> int:
        return sum(1 for x in self.labels if x != IGNORE)


def tokenize_prompt(tokenizer: Any, prompt: Prompt, use_chat_template: bool = True) -> list[int]:
    return tokenizer(render_prompt(tokenizer, prompt, use_chat_template), add_special_tokens=False)["input_ids"]


def tokenize_response(tokenizer: Any, response: str) -> list[int]:
    """Response tokens followed by EOS (the model must learn to stop)."""
    return tokenizer(response, add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]


def tokenize_demonstration(
    tokenizer: Any,
    demo: Demonstration,
    *,
    max_seq_len: int,
    mask_prompt: bool = True,
    use_chat_template: bool = True,
) -> Example:
    """Prompt + response + EOS; prompt tokens masked from the loss unless ``mask_prompt=False``.

    Raises ``DataError(field="response")`` when the example exceeds ``max_seq_len``: a
    silently truncated demonstration would teach the model to stop mid-sentence.
    """
    p = tokenize_prompt(tokenizer, demo.prompt, use_chat_template)
    r = tokenize_response(tokenizer, demo.response)
    n = len(p) + len(r)
    if n > max_seq_len:
        raise DataError(f"example is {n} tokens ({len(p)} prompt + {len(r)} response), over max_seq_len={max_seq_len}", field="response")
    ids = tuple(p + r)
    if mask_prompt:
        labels = tuple([IGNORE] * len(p) + r)
    else:
        labels = (IGNORE,) + ids[1:]  # position 0 has nothing to predict it
    return Example(input_ids=ids, labels=labels)


def tokenize_text(tokenizer: Any, text: str, max_seq_len: int, append_eos: bool = True) -> list[Example]:
    """Pretraining text -> examples of at most ``max_seq_len`` tokens, loss on every token.
    Long documents are cut into consecutive chunks (no token is dropped). ``append_eos`` ends
    the document with EOS (a document separator, learned as such); turn it off for text that
    was cut mid-document (a length-capped sample), where an EOS would be a wrong target."""
    ids = tokenizer(text, add_special_tokens=False)["input_ids"] + ([tokenizer.eos_token_id] if append_eos else [])
    out = []
    for s in range(0, len(ids), max_seq_len):
        chunk = ids[s : s + max_seq_len]
        if len(chunk) < 2:
            continue
        out.append(Example(input_ids=tuple(chunk), labels=(IGNORE,) + tuple(chunk[1:])))
    return out
