"""The tiny random model builder and the local transformers backend (real torch/peft code)."""

import asyncio
import hashlib

import pytest

pytest.importorskip("torch", reason="needs the 'local' extra (torch)")
pytest.importorskip("transformers", reason="needs the 'local' extra (transformers)")
pytest.importorskip("peft", reason="needs the 'local' extra (peft)")

from automem_agent._chat import ChatMessage, ChatRequest
from automem_agent.models import LocalModel, build_tiny_model, load_model
from automem_agent.models._cache import is_complete


def req(text: str, **kw) -> ChatRequest:
    return ChatRequest(
        messages=[
            ChatMessage(role="system", content="You keep notes."),
            ChatMessage(role="user", content=text),
        ],
        **kw,
    )


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory):
    return build_tiny_model(tmp_path_factory.mktemp("tiny") / "qwen2")


@pytest.fixture(scope="module")
def adapter_dir(tiny_dir, tmp_path_factory):
    """A LoRA adapter whose weights are perturbed so it visibly changes the output."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    base = AutoModelForCausalLM.from_pretrained(tiny_dir)
    peft_model = get_peft_model(
        base, LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj", "o_proj"])
    )
    gen = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for name, param in peft_model.named_parameters():
            if "lora_" in name:
                param.copy_(torch.randn(param.shape, generator=gen))
    out = tmp_path_factory.mktemp("adapter") / "memory"
    peft_model.save_pretrained(out)
    return out


@pytest.fixture(scope="module")
def tiny(tiny_dir):
    return LocalModel(tiny_dir, name="tiny")


def test_tiny_model_directory_is_complete_and_reused(tiny_dir):
    names = {p.name for p in tiny_dir.iterdir()}
    assert {"config.json", "model.safetensors", "tokenizer.json"} <= names
    assert is_complete(tiny_dir)
    weights = tiny_dir / "model.safetensors"
    before = weights.stat().st_mtime_ns
    assert build_tiny_model(tiny_dir) == tiny_dir
    assert weights.stat().st_mtime_ns == before  # not rebuilt


def test_tiny_model_is_deterministic_per_seed(tmp_path, tiny_dir):
    def digest(d):
        return hashlib.sha256((d / "model.safetensors").read_bytes()).hexdigest()

    assert digest(build_tiny_model(tmp_path / "again")) == digest(tiny_dir)
    assert digest(build_tiny_model(tmp_path / "other", seed=1)) != digest(tiny_dir)
    llama = build_tiny_model(tmp_path / "llama", arch="llama")
    assert '"LlamaForCausalLM"' in (llama / "config.json").read_text()
    with pytest.raises(ValueError, match="arch must be"):
        build_tiny_model(tmp_path / "bad", arch="gpt2")  # type: ignore[arg-type]


def test_tiny_tokenizer_template_and_assistant_mask(tiny):
    tok = tiny.tokenizer
    # the pipe syntax is ordinary text; chat roles are special tokens
    assert "<|SEARCH|>" not in tok.all_special_tokens
    assert tok.decode(tok.encode("<|SEARCH|> query=wood")) == "<|SEARCH|> query=wood"
    assert {"<|im_start|>", "<|im_end|>"} <= set(tok.all_special_tokens)
    messages = [
        {"role": "system", "content": "sys"},
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": "<|DONE|> ok"},
        {"role": "user", "content": "again"},
        {"role": "assistant", "content": "fine"},
    ]
    enc = tok.apply_chat_template(
        messages, tokenize=True, return_dict=True, return_assistant_tokens_mask=True
    )
    ids, mask = enc["input_ids"], enc["assistant_masks"]
    assert len(ids) == len(mask)
    kept = tok.decode([i for i, m in zip(ids, mask, strict=True) if m])
    assert kept == "<|DONE|> ok<|im_end|>fine<|im_end|>"  # end-of-turn token inside the span
    text = tok.apply_chat_template(messages[:2], tokenize=False, add_generation_prompt=True)
    assert (
        text
        == "<|im_start|>system\nsys<|im_end|>\n<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n"
    )


def test_greedy_generation_is_deterministic_and_counts_tokens(tiny):
    first = asyncio.run(tiny.complete(req("collect wood", max_tokens=12)))
    second = asyncio.run(tiny.complete(req("collect wood", max_tokens=12)))
    assert first.text == second.text and first.text
    assert first.output_tokens == 12 and first.finish_reason == "length"
    assert first.input_tokens > 5 and first.model == "tiny"


def test_stop_strings_cut_text_and_end_generation_early(tiny):
    full = asyncio.run(tiny.complete(req("move west", max_tokens=40)))
    stop = full.text[8:10]  # a string that occurs in the greedy output
    assert stop and full.text.find(stop) >= 1
    cut = asyncio.run(tiny.complete(req("move west", max_tokens=40, stop=[stop, "never"])))
    assert cut.text == full.text[: full.text.find(stop)]
    assert cut.finish_reason == "stop"
    assert cut.output_tokens < full.output_tokens  # generation stopped early


def test_concurrent_requests_are_serialised_and_match_sequential(tiny):
    prompts = ["a", "bb", "ccc"]
    sequential = [asyncio.run(tiny.complete(req(p, max_tokens=6))).text for p in prompts]

    async def together():
        return await asyncio.gather(*(tiny.complete(req(p, max_tokens=6)) for p in prompts))

    assert [r.text for r in asyncio.run(together())] == sequential


def test_lora_adapter_switched_per_request(tiny_dir, adapter_dir):
    model = LocalModel(tiny_dir, adapters={"memory": adapter_dir})
    assert model.adapters == ["memory"]
    request = req("collect wood", max_tokens=10)
    base = asyncio.run(model.complete(request)).text
    tuned = asyncio.run(model.complete(req("collect wood", max_tokens=10, adapter="memory")))
    assert tuned.text != base and tuned.model.endswith("+memory")
    assert asyncio.run(model.complete(request)).text == base  # back to the base model
    plain = LocalModel(tiny_dir)
    assert asyncio.run(plain.complete(request)).text == base  # adapters disabled == no adapter
    with pytest.raises(ValueError, match="no adapter 'other'"):
        asyncio.run(model.complete(req("x", adapter="other")))
    model.load_adapter("other", adapter_dir)
    assert model.adapters == ["memory", "other"]
    same = asyncio.run(model.complete(req("collect wood", max_tokens=10, adapter="other")))
    assert same.text == tuned.text


def test_load_model_local_specs(tiny_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("AUTOMEM_CACHE", str(tmp_path / "cache"))
    from_dir = load_model(f"hf:{tiny_dir}")
    assert isinstance(from_dir, LocalModel) and from_dir.name == tiny_dir.name
    tiny = load_model("tiny:llama")
    assert tiny.name == "tiny-llama" and any((tmp_path / "cache").iterdir())
    with pytest.raises(FileNotFoundError, match="never downloaded"):
        load_model("hf:automem-test/not-a-cached-model")


def test_sampling_and_tool_messages_render_as_text(tiny):
    sampled = asyncio.run(tiny.complete(req("collect wood", max_tokens=8, temperature=1.0)))
    assert sampled.output_tokens == 8 and sampled.text
    from automem_agent._chat import ToolCall, ToolResult
    from automem_agent.models._local import _as_template_message

    msg = ChatMessage(
        role="assistant",
        content="looking",
        tool_calls=[ToolCall(id="t1", name="memory", input={"command": "view"})],
    )
    assert _as_template_message(msg)["content"] == "looking\n[tool call memory] {'command': 'view'}"
    res = ChatMessage(
        role="user",
        content="",
        tool_results=[ToolResult(call_id="t1", content="empty", is_error=True)],
    )
    assert _as_template_message(res)["content"] == "[tool result (error)] empty"


def test_from_objects_wraps_a_model_in_memory(tiny_dir, adapter_dir):
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    base = AutoModelForCausalLM.from_pretrained(tiny_dir)
    peft_model = PeftModel.from_pretrained(base, str(adapter_dir), adapter_name="memory")
    wrapped = LocalModel.from_objects(
        peft_model, AutoTokenizer.from_pretrained(tiny_dir), name="fresh"
    )
    from_disk = LocalModel(tiny_dir, adapters={"memory": adapter_dir})
    for adapter in (None, "memory"):
        request = req("move west", max_tokens=8, adapter=adapter)
        assert (
            asyncio.run(wrapped.complete(request)).text
            == asyncio.run(from_disk.complete(request)).text
        )
    assert wrapped.name == "fresh" and wrapped.adapters == ["memory"]
