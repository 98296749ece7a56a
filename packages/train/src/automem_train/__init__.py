"""Loop 2: select the agent's own good memory decisions and LoRA-finetune a memory specialist.

Pipeline: `extract_examples` (verbatim memory turns + features) -> `select_examples` or
`run_policy` + `compose` (a policy and a data composition) -> `build_training_set` (hygiene
checks, response-only masks, report) -> `train_lora` (PEFT adapter, checkpoints, resume).
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
from automem_train._policy import POLICY_CONTRACT, PolicyOutcome, SelectionPolicy, run_policy
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
from automem_train._tokenize import (
    Encoded,
    HygieneError,
    encode_example,
    encode_turn,
    end_of_turn,
    render,
)
from automem_train._trainer import (
    TrainResult,
    epoch_batches,
    plot_loss,
    read_loss_log,
    train_lora,
)

__all__ = [
    "BUILTIN_SELECTORS",
    "POLICY_CONTRACT",
    "VLLM_LORA_MODULES",
    "Composition",
    "DatasetReport",
    "Encoded",
    "ExampleFeatures",
    "HygieneError",
    "LoraSettings",
    "MemoryExample",
    "PolicyOutcome",
    "SelectionPolicy",
    "SelectionReport",
    "TrainConfig",
    "TrainResult",
    "TrainingSet",
    "build_training_set",
    "check_eval_leak",
    "check_mask",
    "compose",
    "default_select",
    "encode_example",
    "encode_turn",
    "end_of_turn",
    "epoch_batches",
    "eval_keys",
    "extract_examples",
    "extract_from_trace",
    "is_memory_turn",
    "keep_all",
    "near_duplicate_key",
    "plot_loss",
    "read_examples",
    "read_loss_log",
    "render",
    "run_policy",
    "select_examples",
    "trace_files",
    "train_lora",
    "write_examples",
]
