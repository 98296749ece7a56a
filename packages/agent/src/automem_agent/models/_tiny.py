"""A tiny random Qwen2/Llama chat model with an offline-trained tokenizer, for fast tests.

It exercises the real loading, chat-template, LoRA and generation code paths in a second or
two; its outputs are noise. The chat template marks assistant turns with
`{% generation %}` so `apply_chat_template(..., return_assistant_tokens_mask=True)` gives the
mask for response-only loss, and the end-of-turn token sits inside that span.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from automem_agent.models._cache import build_atomically, cache_dir
from automem_agent.models._imports import require

TINY_VERSION = 2  # bump when the recipe changes, so stale cache entries are not reused

SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]

# ChatML. Jinja drops a literal newline right after a tag, hence the `{{ '\n' }}` pieces.
CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\\n' }}"
    "{% if message['role'] == 'assistant' %}"
    "{% generation %}{{ message['content'] + '<|im_end|>' }}{% endgeneration %}{{ '\\n' }}"
    "{% else %}"
    "{{ message['content'] + '<|im_end|>' + '\\n' }}"
    "{% endif %}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)

_CORPUS = """\
You are an agent playing a game. Your memory is a directory of files.
<|SEARCH|> path=/notes.md query=wood <|/SEARCH|>
<|READ|> path=/notes.md <|/READ|>
<|TAIL|> path=/log.md lines=5 <|/TAIL|>
<|COUNT|> path=/log.md query=zombie <|/COUNT|>
<|APPEND|> path=/log.md
step 12: collected wood near the tree to the north.
<|/APPEND|>
<|WRITE|> path=/plan.md
1. collect wood 2. place table 3. make wood pickaxe
<|/WRITE|>
<|CREATE|> path=/map.md <|/CREATE|>
<|STR_REPLACE|> path=/plan.md old=collect wood new=collect stone <|/STR_REPLACE|>
<|INSERT|> path=/plan.md line=2 text=drink water <|/INSERT|>
<|DELETE|> path=/old.md <|/DELETE|>
<|RENAME|> path=/a.md new_path=/b.md <|/RENAME|>
<|DONE|>
<|ACTION|> move west <|/ACTION|>
<|ACTION|> do <|/ACTION|>
<|ACTION|> place table <|/ACTION|>
Observation: you see grass, a tree, water and a zombie. Health 9, food 8, drink 7, energy 9.
The dungeon corridor leads east. A door is to the north. You hear a fountain.
Inventory: wood 3, stone 1, sapling 1. Achievements: collect_wood, place_table.
The quick brown fox jumps over the lazy dog. 0123456789 {}[]()<>:;,.!?'"-_/\\|=+*#@$%&
"""


def _train_tokenizer(vocab_size: int):
    require("tokenizers", "local", backend="tiny")
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),  # every byte encodes: no UNK
        show_progress=False,
    )
    tok.train_from_iterator(_CORPUS.splitlines() * 4, trainer=trainer)
    return tok


def _write_tiny(out: Path, arch: str, seed: int, vocab_size: int, hidden_size: int) -> None:
    require("transformers", "local", backend="tiny")
    require("torch", "local", backend="tiny")
    import torch
    from transformers import (
        GenerationConfig,
        PretrainedConfig,
        PreTrainedModel,
        PreTrainedTokenizerFast,
    )

    tok = _train_tokenizer(vocab_size)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token=None,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        extra_special_tokens=["<|im_start|>"],
    )
    tokenizer.chat_template = CHAT_TEMPLATE
    tokenizer.save_pretrained(out)
    ids = {t: tok.token_to_id(t) for t in SPECIAL_TOKENS}
    common = dict(
        vocab_size=tok.get_vocab_size(),
        hidden_size=hidden_size,
        intermediate_size=hidden_size * 2,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=2048,
        tie_word_embeddings=True,
        initializer_range=0.4,  # larger than usual so greedy output varies with the prompt
        eos_token_id=ids["<|im_end|>"],
        pad_token_id=ids["<|endoftext|>"],
        bos_token_id=None,
    )
    config: PretrainedConfig
    cls: type[PreTrainedModel]
    if arch == "qwen2":
        from transformers import Qwen2Config, Qwen2ForCausalLM

        config, cls = Qwen2Config(**common), Qwen2ForCausalLM
    elif arch == "llama":
        from transformers import LlamaConfig, LlamaForCausalLM

        config, cls = LlamaConfig(**common), LlamaForCausalLM
    else:
        raise ValueError(f"arch must be 'qwen2' or 'llama', not {arch!r}")
    torch.manual_seed(seed)
    model = cls(config)
    model.generation_config = GenerationConfig(
        eos_token_id=ids["<|im_end|>"], pad_token_id=ids["<|endoftext|>"], do_sample=False
    )
    model.save_pretrained(out, safe_serialization=True)


def build_tiny_model(
    path: str | Path | None = None,
    *,
    arch: Literal["qwen2", "llama"] = "qwen2",
    seed: int = 0,
    vocab_size: int = 512,
    hidden_size: int = 32,
) -> Path:
    """Build (or reuse) a tiny random chat model directory loadable by `from_pretrained`.

    Without `path` it goes to the model cache. The directory is written atomically; an existing
    complete one is returned as is. Same arguments, same weights.
    """
    if arch not in ("qwen2", "llama"):
        raise ValueError(f"arch must be 'qwen2' or 'llama', not {arch!r}")
    if path is None:
        path = cache_dir() / f"tiny-{arch}-s{seed}-v{vocab_size}-h{hidden_size}-r{TINY_VERSION}"
    return build_atomically(
        Path(path), lambda out: _write_tiny(out, arch, seed, vocab_size, hidden_size)
    )
