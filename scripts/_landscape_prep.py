"""Inherent structures for scripts/bench_landscape.py, cached as .npz (a liquid made with
pyglass.engine.builders + NoseHoover, quenched by landscape.relax.quench and polished by Newton steps)."""
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from pyglass import builders, potentials as P  # noqa: E402
from pyglass.engine.integrators import NoseHoover  # noqa: E402
from pyglass.analysis.landscape.relax import newton_refine, quench  # noqa: E402
from pyglass.engine.system import Box, System  # noqa: E402

CACHE = os.environ.get("PYGLASS_BENCH_CACHE", "/tmp/pyglass_bench")


def model(name):
    """(potential, dim, density, composition, liquid temperature, MD step)."""
    if name == "ka3d":
        return P.KobAndersen(smoothing="smooth"), 3, 1.2, (0.8, 0.2), 1.0, 0.002
    if name == "disks2d":
        return P.SoftDisks2D(cutoff=2.5, smoothing="smooth"), 2, 0.8, (0.5, 0.5), 0.6, 0.002
    if name == "sw3d":      # paper 2's SW liquid (inputs/kapteijns_2021_sw.toml): rho 0.52, T 0.035, dt 0.065
        return P.StillingerWeber(), 3, 0.52, (1.0,), 0.035, 0.065
    raise ValueError(name)


def inherent_structure(name, n, seed=1, md_steps=None, newton=None):
    """Cached IS of model `name` with n particles: (system, potential)."""
    pot, dim, rho, comp, temp, dt = model(name)
    md_steps = md_steps if md_steps is not None else (1000 if n <= 20000 else 200)
    newton = (n <= 20000) if newton is None else newton
    os.makedirs(CACHE, exist_ok=True)
    path = os.path.join(CACHE, f"{name}_{n}_{seed}.npz")
    if os.path.exists(path):
        z = np.load(path)
        s = System(z["x"], Box(z["L"]), z["types"])
        return s, pot
    t0 = time.time()
    if name == "sw3d":      # a random start pushed off (the SW deck's start): a lattice at 0.52 is no liquid
        s = builders.random_packing(n, rho, dim, comp, seed=seed, min_distance=1.0)
        quench(s, pot, ftol=1e-3)
    else:
        s = builders.lattice(n, rho, dim, comp, seed=seed, jitter=0.05)
    s.thermalize(temp, seed)
    NoseHoover(dt=dt, T=temp, tau=100 * dt).run(s, pot, md_steps)
    e, fmax, it = quench(s, pot, ftol=1e-8)
    print(f"[prep] {name} N={n}: quench e/N={e / n:.6f} max|F|={fmax:.2e} it={it} ({time.time() - t0:.0f} s)",
          flush=True)
    np.savez(path, x=s.positions, L=s.box.lengths, types=s.types)
    if newton:
        fmax = newton_refine(s, pot, ftol=1e-11)
        print(f"[prep] Newton max|F|={fmax:.1e} ({time.time() - t0:.0f} s)", flush=True)
        np.savez(path, x=s.positions, L=s.box.lengths, types=s.types)
    return s, pot


if __name__ == "__main__":
    inherent_structure(sys.argv[1], int(sys.argv[2]))
