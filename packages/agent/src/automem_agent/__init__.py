"""The LOG/PLAN memory agent: chat-model backends, scaffolds, traces and the episode runner."""

__all__: list[str] = []
