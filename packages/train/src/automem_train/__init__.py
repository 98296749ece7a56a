"""Loop 2: select the agent's own good memory decisions and LoRA-finetune a memory specialist.

Pipeline: `extract_examples` (verbatim memory turns + features) -> `select_examples`, or
`run_policy` + `compose` (a policy and a data composition) -> `build_training_set` (hygiene
checks, response-only masks, report) -> `train_lora` (PEFT adapter, checkpoints, resume) ->
`compare_specialist` (two-model agent vs base-only agent). `run_loop2(Loop2Config(...))` runs
trials whose recipes the meta-LLM proposes (`propose_recipe`) and keeps the best. `main` is
`apps/train` (`automem-train`): a protocol and the shared run flags parsed into a `Loop2Config`.
"""

from automem_train._cli import build_parser, config_from_args, main
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
from automem_train._from_run import Loop1Source, Loop2Error, loop1_source, played_episodes
from automem_train._loop import (
    run_loop2,
    run_loop2_async,
    run_trial,
    select_for_recipe,
)
from automem_train._loop_config import (
    IDENTITY_FIELDS,
    Loop2Config,
    check_resume,
    config_toml,
    demo_config,
    from_loop1,
    load_recipe,
)
from automem_train._plan import Loop2Plan, format_loop2_plan, plan_loop2
from automem_train._policy import POLICY_CONTRACT, PolicyOutcome, SelectionPolicy, run_policy
from automem_train._pool import (
    drop_eval_episodes,
    eval_suite_of,
    full_suite,
    per_env,
    pool_suite_of,
)
from automem_train._postprocess import PostProcess, postprocess, strip_action
from automem_train._propose import Proposal, pool_stats, propose_recipe
from automem_train._recipe import (
    Recipe,
    TrialRecord,
    append_ledger,
    best_trial,
    ledger_table,
    read_ledger,
    trial_outcome,
)
from automem_train._report import PoolRecord, render_report, write_report
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
from automem_train._selector import SELECTOR_CONTRACT, SelectorOutcome, run_selector
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
    "IDENTITY_FIELDS",
    "POLICY_CONTRACT",
    "SELECTOR_CONTRACT",
    "SPECIALIST",
    "VLLM_LORA_MODULES",
    "AgentMetrics",
    "Comparison",
    "Composition",
    "DatasetReport",
    "Encoded",
    "ExampleFeatures",
    "HygieneError",
    "Loop1Source",
    "Loop2Config",
    "Loop2Error",
    "Loop2Plan",
    "LoraSettings",
    "MemoryEstimate",
    "MemoryExample",
    "ModelShape",
    "PolicyOutcome",
    "PoolRecord",
    "PostProcess",
    "Proposal",
    "Recipe",
    "SelectionPolicy",
    "SelectionReport",
    "SelectorOutcome",
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
    "build_parser",
    "build_training_set",
    "check_eval_leak",
    "check_fits",
    "check_mask",
    "check_resume",
    "compare_specialist",
    "compose",
    "config_from_args",
    "config_toml",
    "default_select",
    "demo_config",
    "drop_eval_episodes",
    "encode_example",
    "encode_turn",
    "end_of_turn",
    "epoch_batches",
    "estimate_memory",
    "eval_keys",
    "eval_suite_of",
    "extract_examples",
    "extract_from_trace",
    "format_loop2_plan",
    "from_loop1",
    "full_suite",
    "is_memory_turn",
    "keep_all",
    "ledger_table",
    "load_recipe",
    "loop1_source",
    "main",
    "model_shape",
    "near_duplicate_key",
    "per_env",
    "plan_loop2",
    "played_episodes",
    "plot_loss",
    "pool_stats",
    "pool_suite_of",
    "postprocess",
    "propose_recipe",
    "read_examples",
    "read_ledger",
    "read_loss_log",
    "render",
    "render_report",
    "run_agent",
    "run_loop2",
    "run_loop2_async",
    "run_policy",
    "run_recipes",
    "run_selector",
    "run_trial",
    "select_examples",
    "select_for_recipe",
    "serve_config_for",
    "served_lora_rank",
    "strip_action",
    "trace_files",
    "train_lora",
    "trial_outcome",
    "uses_gradient_checkpointing",
    "visible_device_memory",
    "write_examples",
    "write_report",
]
