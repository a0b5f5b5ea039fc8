"""The memory budget of a direct factorisation of the Hessian: what the landscape code consults
before it factorises (`inherent.InherentStructure`, `modes.choose_method`, the deck check of the
landscape stages).

`factor_memory_estimate(n, dim)` is the memory a direct (Cholesky) factorisation of the Hessian is
expected to take, from the scaling of nested-dissection fill (2D: n log n; 3D: n^(4/3)) calibrated
on measurements of this code: 2D N = 10^5 KA, 30 modes at 1.15 GiB peak; 3D KA, factor fill
extrapolated to about 51 GiB at N = 10^5 from N = 8000-32000 (ARCHITECTURE.md, energy landscape).
"""
from __future__ import annotations

import math

from pyglass.engine.resources import GIB, available_memory  # noqa: F401  (the landscape's budget)


def factor_memory_estimate(n: int, dim: int) -> float:
    """Estimated bytes of a direct factorisation of the (dN x dN) Hessian of N particles."""
    n = max(int(n), 2)
    if dim == 2:
        return 1.0 * GIB * (n / 1e5) * math.log(n) / math.log(1e5)
    return 51.0 * GIB * (n / 1e5) ** (4.0 / 3.0)


def memory_note(n: int, dim: int) -> str:
    est = factor_memory_estimate(n, dim)
    avail = available_memory()
    return (f"direct factorisation of the {dim * n} x {dim * n} Hessian: about {est / GIB:.2g} GiB "
            f"(available now: {avail / GIB:.3g} GiB)" if math.isfinite(avail) else
            f"direct factorisation: about {est / GIB:.2g} GiB")


def factor_fits(n: int, dim: int, fraction: float = 0.8) -> bool:
    return factor_memory_estimate(n, dim) <= fraction * available_memory()
