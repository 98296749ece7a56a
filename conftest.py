"""Root pytest setup shared by every package's tests."""

import os

# Under pytest-xdist each worker is its own process. Torch's default of one thread per core then
# oversubscribes the CPU (2 workers x 2 threads on a 2-core CI machine), which made SmolLM2 up to
# 7x slower here. One thread per worker keeps the cores busy without contention.
if os.environ.get("PYTEST_XDIST_WORKER"):
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    os.environ.setdefault("MKL_NUM_THREADS", "1")
    # llama.cpp sets its own thread counts; with two workers sharing the cores, its OpenMP
    # threads must sleep at barriers rather than spin (spinning: 148 -> 31 tokens/s measured).
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
