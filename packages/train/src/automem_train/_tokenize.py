"""Turning an example into token ids and a response-only loss mask with the chat template.

The mask is computed by rendering the prompt (`add_generation_prompt=True`, exactly what the
model saw at inference) and the prompt plus the verbatim response through the tokenizer's own
chat template. The completion is the rendered text after the prompt, cut just after the
template's end-of-turn marker. Prompt and completion are tokenised separately and concatenated,
as at inference, where the prompt is encoded and the response is generated token by token.

This works for any template, with or without `{% generation %}` tags (SmolLM2's has none); for
templates that have them the mask agrees with `return_assistant_tokens_mask=True` (tested).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from automem_train._examples import MemoryExample


class HygieneError(ValueError):
    """A dataset broke a hygiene rule (leaked eval seed, empty mask, missing end-of-turn, ...)."""


@dataclass(frozen=True)
class Encoded:
    """Token ids and a same-length 0/1 mask of the tokens that carry loss."""

    input_ids: list[int]
    mask: list[int]
    truncated: bool = False

    @property
    def n_loss_tokens(self) -> int:
        return sum(self.mask)


_PROBE = "\x07probe-response\x07"


def end_of_turn(tokenizer: Any) -> tuple[str, int]:
    """The text and token id the chat template puts after an assistant message's content.

    Found by rendering a probe conversation, so it is whatever this template really emits
    (`<|im_end|>` for ChatML models). Raises `HygieneError` if it is not one token.
    """
    messages = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": _PROBE}]
    text = tokenizer.apply_chat_template(messages, tokenize=False)
    at = text.rfind(_PROBE)
    tail = text[at + len(_PROBE) :] if at >= 0 else ""
    marker = tail.strip().split()[0] if tail.strip() else ""
    if not marker:
        marker = tokenizer.eos_token or ""
    ids = tokenizer.encode(marker, add_special_tokens=False) if marker else []
    if len(ids) != 1:
        raise HygieneError(
            f"the chat template's end-of-turn marker {marker!r} is not a single token ({ids})"
        )
    return marker, ids[0]


def render(tokenizer: Any, messages: list[dict[str, str]], response: str) -> tuple[str, str]:
    """(prompt text, completion text) for one turn; completion ends with the end-of-turn marker."""
    prompt = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    full = tokenizer.apply_chat_template(
        [*messages, {"role": "assistant", "content": response}], tokenize=False
    )
    if not full.startswith(prompt):
        raise HygieneError(
            "the chat template renders the prompt differently once the response is appended; "
            "response-only masking would misalign"
        )
    marker, _ = end_of_turn(tokenizer)
    completion = full[len(prompt) :]
    cut = completion.rfind(marker)
    if cut < 0:
        raise HygieneError(f"the rendered completion has no end-of-turn marker {marker!r}")
    return prompt, completion[: cut + len(marker)]


def encode_example(
    tokenizer: Any, example: MemoryExample, *, max_length: int | None = None
) -> Encoded:
    """Ids and mask for one example. Over `max_length`, the prompt is cut from the left (the
    oldest context goes first) so the whole response stays; if even the response does not fit,
    the result is marked truncated and its mask covers what is left."""
    return encode_turn(tokenizer, example.messages, example.response, max_length=max_length)


def encode_turn(
    tokenizer: Any,
    messages: list[dict[str, str]],
    response: str,
    *,
    max_length: int | None = None,
) -> Encoded:
    """As `encode_example`, from raw messages and a response."""
    prompt, completion = render(tokenizer, messages, response)
    prompt_ids = tokenizer.encode(prompt, add_special_tokens=False)
    completion_ids = tokenizer.encode(completion, add_special_tokens=False)
    truncated = False
    if max_length is not None and len(prompt_ids) + len(completion_ids) > max_length:
        truncated = True
        room = max_length - len(completion_ids)
        if room > 0:
            prompt_ids = prompt_ids[len(prompt_ids) - room :]
        else:
            prompt_ids = []
            completion_ids = completion_ids[:max_length]
    return Encoded(
        input_ids=prompt_ids + completion_ids,
        mask=[0] * len(prompt_ids) + [1] * len(completion_ids),
        truncated=truncated,
    )
