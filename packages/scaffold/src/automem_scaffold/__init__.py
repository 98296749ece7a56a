"""Loop 1: meta-LLM scaffold evolution, gated on mean progression over fixed seeds."""

__all__: list[str] = []
