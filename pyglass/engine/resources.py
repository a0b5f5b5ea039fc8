"""What this machine (or the batch job) gives a run: memory. Every layer sizes its work against it
(the landscape's factorisations, the readers' budget for declared dataset sizes)."""
from __future__ import annotations

import os

GIB = 1024 ** 3


def available_memory() -> float:
    """Bytes of memory available now: $PYGLASS_MEMORY_LIMIT_GIB where set (batch jobs and tests state
    their limit), else MemAvailable, else +inf when it cannot be read."""
    limit = os.environ.get("PYGLASS_MEMORY_LIMIT_GIB")
    if limit:
        return float(limit) * GIB
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return float(line.split()[1]) * 1024
    except OSError:
        pass
    return float("inf")
