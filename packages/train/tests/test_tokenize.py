"""Response-only masks from the chat template: what carries loss, and the end-of-turn token."""

from __future__ import annotations

from automem_agent.models import build_tiny_model
from automem_train import encode_turn, end_of_turn, render
from transformers import AutoTokenizer

MESSAGES = [
    {"role": "system", "content": "You keep notes."},
    {"role": "user", "content": "obs: a tree to the north"},
]
RESPONSE = "<|APPEND|> path=/log.md\nstep 3: tree north\n<|/APPEND|>\n<|DONE|>"


def test_mask_covers_exactly_the_response_and_end_of_turn():
    tok = AutoTokenizer.from_pretrained(build_tiny_model())
    marker, eot = end_of_turn(tok)
    assert marker == "<|im_end|>"
    enc = encode_turn(tok, MESSAGES, RESPONSE)
    masked = [t for t, m in zip(enc.input_ids, enc.mask, strict=True) if m]
    assert masked[-1] == eot
    assert tok.decode(masked) == RESPONSE + "<|im_end|>"
    # the unmasked part is exactly the prompt the model sees at inference
    prompt = tok.apply_chat_template(MESSAGES, tokenize=False, add_generation_prompt=True)
    assert tok.decode(enc.input_ids[: enc.mask.index(1)]) == prompt
    assert render(tok, MESSAGES, RESPONSE) == (prompt, RESPONSE + "<|im_end|>")


def test_mask_agrees_with_generation_tags():
    # The tiny model's template marks assistant content with {% generation %}; the mask from
    # rendering prefixes must select the same tokens.
    tok = AutoTokenizer.from_pretrained(build_tiny_model())
    out = tok.apply_chat_template(
        [*MESSAGES, {"role": "assistant", "content": RESPONSE}],
        return_assistant_tokens_mask=True,
        return_dict=True,
    )
    ids, tagged = out["input_ids"], out["assistant_masks"]
    enc = encode_turn(tok, MESSAGES, RESPONSE)
    assert enc.input_ids == ids[: len(enc.input_ids)]
    assert enc.mask == tagged[: len(enc.mask)]
    assert not any(tagged[len(enc.mask) :])  # only the newline after <|im_end|> is left out
