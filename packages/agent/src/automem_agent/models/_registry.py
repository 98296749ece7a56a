"""Spec strings -> chat models. Each backend prefix maps to a loader imported only when used,
so a missing optional dependency bites only the backend that needs it."""

from __future__ import annotations

import importlib
from collections.abc import Callable

from automem_agent._chat import ChatModel

Loader = Callable[..., ChatModel]  # loader(rest_of_spec: str, **options) -> ChatModel

# prefix -> "module:function" (imported lazily) or a callable
_BACKENDS: dict[str, str | Loader] = {
    "anthropic": "automem_agent.models._anthropic:load_anthropic",
    "openai": "automem_agent.models._openai:load_openai",
    "hf": "automem_agent.models._local:load_hf",
    "smollm2": "automem_agent.models._local:load_smollm2",
    "llamacpp": "automem_agent.models._llamacpp:load_llamacpp",
    "tiny": "automem_agent.models._local:load_tiny",
    "replay": "automem_agent.models._replay:load_replay",
    "scripted": "automem_agent.models._scripted:load_scripted",
}

SPEC_FORMS = {
    "anthropic": "anthropic:<model>",
    "openai": "openai:http://host:port/v1[,http://host2:port/v1...]#<model>",
    "hf": "hf:<path-or-cached-name>",
    "smollm2": "smollm2",
    "llamacpp": "llamacpp:smollm2 | llamacpp:<path.gguf>",
    "tiny": "tiny[:qwen2|llama]",
    "replay": "replay:<path.jsonl>",
    "scripted": "scripted:<module>:<function>",
}


def register_backend(prefix: str, loader: str | Loader, *, form: str | None = None) -> None:
    """Add (or replace) a backend: `loader` is a callable or a lazy `"module:function"`."""
    if not prefix or ":" in prefix:
        raise ValueError(f"bad backend prefix {prefix!r}")
    _BACKENDS[prefix] = loader
    SPEC_FORMS[prefix] = form or f"{prefix}:..."


def backends() -> list[str]:
    """The registered spec prefixes."""
    return sorted(_BACKENDS)


def _resolve(loader: str | Loader) -> Loader:
    if callable(loader):
        return loader
    module, _, attr = loader.partition(":")
    return getattr(importlib.import_module(module), attr)


def load_model(spec: str, **options) -> ChatModel:
    """Build the chat model a spec string names, e.g. `"smollm2"`, `"tiny"`,
    `"anthropic:claude-opus-4-5"`, `"openai:http://localhost:8000/v1#qwen"`, `"hf:./ckpt"`,
    `"replay:runs/x/replies.jsonl"`, `"scripted:my_module:reply"`. Options go to the backend.

    Never downloads anything. Unknown prefixes raise ValueError listing the known forms; a
    backend whose extra is missing raises ImportError naming the install command.
    """
    prefix, _, rest = spec.partition(":")
    prefix = prefix.strip()
    if prefix not in _BACKENDS:
        forms = ", ".join(SPEC_FORMS[p] for p in backends())
        raise ValueError(f"unknown model spec {spec!r}; known forms: {forms}")
    return _resolve(_BACKENDS[prefix])(rest.strip(), **options)
