"""Prompt masking by hand, and packing: packed loss == unpacked loss (no cross-attention)."""

import torch

from instructrl.data import Demonstration, Prompt
from instructrl.data.collate import pack_batch, pack_rows, pad_batch
from instructrl.data.render import IGNORE, Example, render_prompt, tokenize_demonstration, tokenize_text
from instructrl.models import lm_loss_sum


def test_prompt_masking_hand_checked(tiny):
    _, tok = tiny
    demo = Demonstration(prompt=Prompt(id="1", text="Name a fruit."), response="apple")
    ex = tokenize_demonstration(tok, demo, max_seq_len=64)
    prompt_ids = tok(render_prompt(tok, demo.prompt), add_special_tokens=False)["input_ids"]
    resp_ids = tok("apple", add_special_tokens=False)["input_ids"]
    assert render_prompt(tok, demo.prompt) == "<|im_start|>user\nName a fruit.<|im_end|>\n<|im_start|>assistant\n"
    assert list(ex.input_ids) == prompt_ids + resp_ids + [tok.eos_token_id]
    assert list(ex.labels) == [IGNORE] * len(prompt_ids) + resp_ids + [tok.eos_token_id]
    full = tokenize_demonstration(tok, demo, max_seq_len=64, mask_prompt=False)
    assert full.labels[0] == IGNORE and list(full.labels[1:]) == list(full.input_ids[1:])


def test_tokenize_text_chunks_and_eos(tiny):
    _, tok = tiny
    text = "the river runs past the old stone bridge and on to the sea"
    ids = tok(text, add_special_tokens=False)["input_ids"]
    exs = tokenize_text(tok, text, max_seq_len=5)
    assert [t for e in exs for t in e.input_ids] == ids + [tok.eos_token_id]  # no token dropped, EOS last
    assert all(len(e.input_ids) <= 5 and e.labels == (IGNORE,) + e.input_ids[1:] for e in exs)
    # a document cut mid-way (a length-capped sample) gets no EOS target
    cut = tokenize_text(tok, text, max_seq_len=64, append_eos=False)
    assert len(cut) == 1 and list(cut[0].input_ids) == ids and tok.eos_token_id not in cut[0].labels


def test_plain_template_without_chat_template(tiny):
    _, tok = tiny
    assert render_prompt(tok, Prompt(id="1", text="Hi"), use_chat_template=False) == "### Instruction:\nHi\n\n### Response:\n"


def test_pack_rows_first_fit():
    ex = lambda n: Example(input_ids=(1,) * n, labels=(IGNORE,) + (1,) * (n - 1))
    rows = pack_rows([ex(5), ex(4), ex(3), ex(2)], max_tokens=8)
    assert [[len(e) for e in r] for r in rows] == [[5, 3], [4, 2]]


def test_packed_loss_equals_unpacked(tiny):
    model, tok = tiny
    model.eval()
    demos = [Demonstration(prompt=Prompt(id=str(i), text=f"Question {i}: list {i} colours"), response="red blue " * (i + 1)) for i in range(5)]
    exs = [tokenize_demonstration(tok, d, max_seq_len=128) for d in demos]
    padded = pad_batch(exs, tok.pad_token_id)
    packed = pack_batch(exs, max_tokens=128, pad_id=tok.pad_token_id)
    assert packed.input_ids.shape[0] < len(exs)  # several examples really share a row
    assert packed.n_loss_tokens == padded.n_loss_tokens == sum(e.n_loss_tokens for e in exs)
    with torch.no_grad():
        a, na = lm_loss_sum(model, padded.input_ids, padded.labels, padded.attention_mask, padded.position_ids)
        b, nb = lm_loss_sum(model, packed.input_ids, packed.labels, None, packed.position_ids)
        # each example alone: the ground truth
        alone = sum(lm_loss_sum(model, torch.tensor([e.input_ids]), torch.tensor([e.labels]))[0] for e in exs)
    assert na == nb
    torch.testing.assert_close(a, alone, rtol=1e-5, atol=1e-4)
    torch.testing.assert_close(b, alone, rtol=1e-5, atol=1e-4)


def test_packing_blocks_cross_attention(tiny):
    """Changing the first packed example must not change the second's loss."""
    model, tok = tiny
    model.eval()
    e1 = Example(input_ids=(10, 11, 12, 13), labels=(IGNORE, 11, 12, 13))
    e1b = Example(input_ids=(20, 21, 22, 23), labels=(IGNORE, IGNORE, IGNORE, IGNORE))
    e2 = Example(input_ids=(30, 31, 32), labels=(IGNORE, 31, 32))
    only2 = lambda b: lm_loss_sum(model, b.input_ids, torch.where(torch.arange(b.input_ids.shape[1]) >= 4, b.labels, IGNORE), None, b.position_ids)[0]
    with torch.no_grad():
        x = only2(pack_batch([e1, e2], 16, tok.pad_token_id))
        y = only2(pack_batch([e1b, e2], 16, tok.pad_token_id))
    torch.testing.assert_close(x, y)
