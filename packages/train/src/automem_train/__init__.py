"""Loop 2: select the agent's own good memory decisions and LoRA-finetune a memory specialist."""

__all__: list[str] = []
