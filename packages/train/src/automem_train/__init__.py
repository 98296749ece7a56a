"""Loop 2: select the agent's own good memory decisions and LoRA-finetune a memory specialist.

Pipeline: `extract_examples` (verbatim memory turns + features) -> `select_examples`, or
`run_policy` + `compose` (a policy and a data composition) -> `build_training_set` (hygiene
checks, response-only masks, report) -> `train_lora` (PEFT adapter, checkpoints, resume) ->
`compare_specialist` (two-model agent vs base-only agent). `run_loop2(Loop2Config(...))` runs
trials whose recipes the meta-LLM proposes (`propose_recipe`) and keeps the best.
"""

from automem_train._config import VLLM_LORA_MODULES, LoraSettings, TrainConfig
from automem_train._dataset import (
    DatasetReport,
    TrainingSet,
    build_training_set,
    check_eval_leak,
    check_mask,
    eval_keys,
)
from automem_train._evaluate import (
    SPECIALIST,
    AgentMetrics,
    Comparison,
    attach_adapter,
    compare_specialist,
    run_agent,
)
from automem_train._examples import (
    ExampleFeatures,
    MemoryExample,
    extract_examples,
    extract_from_trace,
    is_memory_turn,
    read_examples,
    trace_files,
    write_examples,
)
from automem_train._fit import (
    MemoryEstimate,
    ModelShape,
    WontFit,
    check_fits,
    estimate_memory,
    model_shape,
    uses_gradient_checkpointing,
    visible_device_memory,
)
from automem_train._loop import (
    Loop2Config,
    demo_config,
    eval_suite_of,
    full_suite,
    load_recipe,
    pool_suite_of,
    run_loop2,
    run_loop2_async,
    run_trial,
)
from automem_train._policy import POLICY_CONTRACT, PolicyOutcome, SelectionPolicy, run_policy
from automem_train._propose import Proposal, pool_stats, propose_recipe
from automem_train._recipe import (
    Recipe,
    TrialRecord,
    append_ledger,
    best_trial,
    ledger_table,
    read_ledger,
)
from automem_train._select import (
    BUILTIN_SELECTORS,
    Composition,
    SelectionReport,
    compose,
    default_select,
    keep_all,
    near_duplicate_key,
    select_examples,
)
from automem_train._serve import adapter_rank, run_recipes, serve_config_for, served_lora_rank
from automem_train._tokenize import (
    Encoded,
    HygieneError,
    encode_example,
    encode_turn,
    end_of_turn,
    render,
)
from automem_train._trainer import (
    TrainingOOM,
    TrainResult,
    epoch_batches,
    plot_loss,
    read_loss_log,
    train_lora,
)

__all__ = [
    "BUILTIN_SELECTORS",
    "POLICY_CONTRACT",
    "SPECIALIST",
    "VLLM_LORA_MODULES",
    "AgentMetrics",
    "Comparison",
    "Composition",
    "DatasetReport",
    "Encoded",
    "ExampleFeatures",
    "HygieneError",
    "Loop2Config",
    "LoraSettings",
    "MemoryEstimate",
    "MemoryExample",
    "ModelShape",
    "PolicyOutcome",
    "Proposal",
    "Recipe",
    "SelectionPolicy",
    "SelectionReport",
    "TrainConfig",
    "TrainResult",
    "TrainingOOM",
    "TrainingSet",
    "TrialRecord",
    "WontFit",
    "adapter_rank",
    "append_ledger",
    "attach_adapter",
    "best_trial",
    "build_training_set",
    "check_eval_leak",
    "check_fits",
    "check_mask",
    "compare_specialist",
    "compose",
    "default_select",
    "demo_config",
    "encode_example",
    "encode_turn",
    "end_of_turn",
    "epoch_batches",
    "estimate_memory",
    "eval_keys",
    "eval_suite_of",
    "extract_examples",
    "extract_from_trace",
    "full_suite",
    "is_memory_turn",
    "keep_all",
    "ledger_table",
    "load_recipe",
    "model_shape",
    "near_duplicate_key",
    "plot_loss",
    "pool_stats",
    "pool_suite_of",
    "propose_recipe",
    "read_examples",
    "read_ledger",
    "read_loss_log",
    "render",
    "run_agent",
    "run_loop2",
    "run_loop2_async",
    "run_policy",
    "run_recipes",
    "run_trial",
    "select_examples",
    "serve_config_for",
    "served_lora_rank",
    "trace_files",
    "train_lora",
    "uses_gradient_checkpointing",
    "visible_device_memory",
    "write_examples",
]
