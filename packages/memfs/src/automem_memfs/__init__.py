"""A sandboxed directory of memory files for LLM agents: typed ops, op parsers, schemas, limits, atomic writes, snapshots."""

__all__: list[str] = []
