"""Paper 1 (Widmer-Cooper, Harrowell & Fynewever / Widmer-Cooper et al., Nature Phys. 4, 711 (2008)):
iso-configurational ensemble of 2D soft disks, irreversible reorganisation (>= 4 lost initial
neighbours within t_max) overlaid on the participation map of the 30 lowest normal modes, the
SI §5 score (% of IR-cluster particles inside mode clusters, with its random-map baseline), the
SI §4 Debye–Waller metric, and a throughput comparison with running the same runs as separate
LAMMPS jobs.

Full protocol (paper scale): N = 1024, T = 0.4, 100 runs of 200 τ, equilibration 5 τα:
    python scripts/paper1_isoconfigurational.py --full
Reduced run (a few minutes; what `make run` affords):
    python scripts/paper1_isoconfigurational.py            (N = 256, 20 runs of 50 τ, 0.1 τα)

Paper protocol used here: equal masses ("σ11 = ε = m = 1.0 where m is the mass of both types of
particle"); inherent structures by conjugate gradient ("the inherent structure of each configuration
was found using the conjugate gradient method"); equilibration in multiples of τα ("τα (= 673 τ for
the simulations reported here)"; --equil-tau-alpha, 5 in --full); IR particles "with ≥ 0.01
probability" and the SI §5 overlap (clusters of ≥ 5, mode map above 0.028: observables.ir_mode_overlap).
Parameters the paper does not state are options marked [unverified] (density; paper 1 ran NPT with a
Nosé–Poincaré–Andersen integrator, the engine runs the members NVE by default: --integrator).
Participation fractions come from `pyglass.analysis.landscape` and the quench from `pyglass.engine.minimizers`;
if either is not installed the script says so and stops before the expensive part.
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from pyglass import builders, ensembles, integrators, maps, observables, potentials  # noqa: E402

REF_PY = os.environ.get("PYGLASS_REF_PYTHON", "/tmp/venv-ref/bin/python")
REF_LIB = os.environ.get("PYGLASS_REF_LIB", "/tmp/venv-ref/lib")


def parse():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--full", action="store_true", help="paper scale: N=1024, 100 runs of 200 tau")
    p.add_argument("--n", type=int, default=256)
    p.add_argument("--runs", type=int, default=20)
    p.add_argument("--tmax", type=float, default=50.0, help="run length (paper: 200 tau)")
    p.add_argument("--t-dw", type=float, default=10.0, help="Debye-Waller time (paper: 10 tau)")
    p.add_argument("--T", type=float, default=0.4)
    p.add_argument("--density", type=float, default=0.76, help="number density [unverified; paper ran NPT]")
    p.add_argument("--dt", type=float, default=0.005)
    p.add_argument("--tau-alpha", type=float, default=673.0, help="tau_alpha at T (paper 1: 673 tau at T = 0.4)")
    p.add_argument("--equil-tau-alpha", type=float, default=0.1,
                   help="equilibration at T in multiples of tau_alpha (--full: 5)")
    p.add_argument("--integrator", default="nve", choices=("nve", "nvt"))
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--modes", type=int, default=30)
    p.add_argument("--fraction", type=float, default=0.10,
                   help="top fraction for the Debye-Waller metric (paper 1 SI §4: 10 %%)")
    p.add_argument("--min-cluster", type=int, default=3, help="DW metric cluster size (SI §4: n* = 3 in 2D)")
    p.add_argument("--ir-level", type=float, default=0.01, help="IR probability marking a particle (paper: 0.01)")
    p.add_argument("--ir-min-cluster", type=int, default=5, help="SI §5 cluster size (paper: 5)")
    p.add_argument("--mode-threshold", type=float, default=None,
                   help="SI §5 mode-map threshold (paper: 0.028 at N = 1024, 30 modes; default 0.028 scaled by "
                        "(1024/N)(modes/30) [our choice], so it stays at the same multiple of the mean n_modes/N)")
    p.add_argument("--random-maps", type=int, default=200, help="random maps for the baselines")
    p.add_argument("--out", default="out/paper1")
    p.add_argument("--skip-modes", action="store_true", help="no participation map (no landscape/minimizers needed)")
    p.add_argument("--lammps-runs", type=int, default=2, help="separate LAMMPS jobs to time (0: skip)")
    p.add_argument("--lammps-pair", default="table", choices=("table", "lepton"), help="LAMMPS pair style")
    p.add_argument("--bench-time", type=float, default=10.0, help="simulated time per timed run in the comparison")
    a = p.parse_args()
    if a.full:
        a.n, a.runs, a.tmax = 1024, 100, 200.0
        a.equil_tau_alpha = max(a.equil_tau_alpha, 5.0)
    a.equil = a.equil_tau_alpha * a.tau_alpha
    if a.mode_threshold is None:
        a.mode_threshold = 0.028 * (1024.0 / a.n) * (a.modes / 30.0)
    return a


def require_landscape():
    """Fail fast, before the expensive ensemble, if the participation map cannot be made."""
    problems = []
    try:
        from pyglass import landscape
        if not hasattr(landscape, "lowest_modes"):
            problems.append(f"pyglass.analysis.landscape ({getattr(landscape, '__file__', '?')}) has no lowest_modes")
    except ImportError as exc:
        problems.append(f"pyglass.analysis.landscape: {exc}")
    try:
        from pyglass.engine.minimizers import FIRE, ConjugateGradient  # noqa: F401
    except ImportError as exc:
        problems.append(f"pyglass.engine.minimizers: {exc}")
    if problems:
        raise SystemExit("paper1_isoconfigurational: " + "; ".join(problems) + ". The participation map needs "
                         "landscape.lowest_modes(system, pot, k).participation_fractions(n_modes) on a CG-quenched "
                         "configuration: merge those branches, or pass --skip-modes.")


def prepare(a):
    s = builders.random_packing(a.n, a.density, 2, (0.5, 0.5), seed=a.seed, min_distance=0.8,
                                masses=[1.0, 1.0])                   # paper 1: "m is the mass of both types"
    pot = potentials.SoftDisks2D()
    s.thermalize(2.0, a.seed)
    integrators.NoseHoover(0.002, 2.0, 0.2).run(s, pot, 2000)          # melt
    integrators.NoseHoover(a.dt, a.T, 100 * a.dt).run(s, pot, int(a.equil / a.dt))
    s.velocities = 0.0
    return s, pot


# ------------------------------------------------------------------ LAMMPS comparison
LMP_IN = """units lj
dimension 2
atom_style atomic
boundary p p p
read_data {data}
mass * 1.0
{pair}
neighbor 0.3 bin
neigh_modify every 1 delay 0 check yes
velocity all create {T} {seed} mom yes dist gaussian
fix 1 all nve
fix 2 all enforce2d
timestep {dt}
thermo {steps}
run {steps}
"""


PAIR_LEPTON = """pair_style lepton 4.5
pair_coeff 1 1 "(1.0/r)^12"
pair_coeff 1 2 "(1.2/r)^12"
pair_coeff 2 2 "(1.4/r)^12"
pair_modify shift yes"""


def write_table(path, n=4000, r_lo=0.4, r_c=4.5):
    """LAMMPS pair table of (σ_ab/r)^12 shifted to 0 at r_c (sigma 1, 1.2, 1.4 for 11, 12, 22)."""
    r = np.linspace(r_lo, r_c, n)
    with open(path, "w") as f:
        for name, sig in (("S11", 1.0), ("S12", 1.2), ("S22", 1.4)):
            e = (sig / r) ** 12 - (sig / r_c) ** 12
            force = 12 * sig ** 12 / r ** 13
            f.write(f"{name}\nN {n} R {r_lo} {r_c}\n\n")
            for k in range(n):
                f.write(f"{k + 1} {r[k]:.10f} {e[k]:.12e} {force[k]:.12e}\n")
            f.write("\n")
    return ("pair_style table linear {n}\npair_coeff 1 1 {p} S11 4.5\npair_coeff 1 2 {p} S12 4.5\n"
            "pair_coeff 2 2 {p} S22 4.5").format(n=n, p=path)


def write_data(path, s):
    L = s.box.lengths
    with open(path, "w") as f:
        f.write(f"soft disks\n\n{s.N} atoms\n2 atom types\n\n0 {L[0]} xlo xhi\n0 {L[1]} ylo yhi\n-0.5 0.5 zlo zhi\n\n"
                "Atoms # atomic\n\n")
        for k, (x, t) in enumerate(zip(s.positions, s.types)):
            f.write(f"{k + 1} {t + 1} {x[0]:.12f} {x[1]:.12f} 0.0\n")


def lammps_jobs(s, a, steps, n_jobs):
    lmp = os.path.join(os.path.dirname(REF_PY), "lmp")
    if not os.path.exists(lmp):
        print(f"LAMMPS: {lmp} not found (build the reference venv: make reference-venv); skipped")
        return None
    tmp = tempfile.mkdtemp(prefix="pyglass-lmp-")
    data = os.path.join(tmp, "config.data")
    write_data(data, s)
    pair = PAIR_LEPTON if a.lammps_pair == "lepton" else write_table(os.path.join(tmp, "soft.table"))
    walls, loops = [], []
    for k in range(n_jobs):
        inp, log = os.path.join(tmp, f"in.{k}"), os.path.join(tmp, f"log.{k}")
        with open(inp, "w") as f:
            f.write(LMP_IN.format(data=data, T=a.T, seed=1000 + k, dt=a.dt, steps=steps, pair=pair))
        t0 = time.perf_counter()
        r = subprocess.run([lmp, "-in", inp, "-log", log, "-screen", "none"], cwd=tmp,
                           env=dict(os.environ, LD_LIBRARY_PATH=REF_LIB, OMP_NUM_THREADS="1"), capture_output=True, text=True)
        walls.append(time.perf_counter() - t0)
        if r.returncode:
            print("LAMMPS failed:", r.stdout[-2000:], r.stderr[-2000:])
            return None
        loop = [ln for ln in open(log) if ln.startswith("Loop time of")]
        loops.append(float(loop[-1].split()[3]))
    shutil.rmtree(tmp, ignore_errors=True)
    return np.array(walls), np.array(loops)


def main():
    a = parse()
    os.makedirs(a.out, exist_ok=True)
    if not a.skip_modes:
        require_landscape()
    t0 = time.perf_counter()
    s, pot = prepare(a)
    t_prep = time.perf_counter() - t0
    print(f"prepared N={s.N} 2D soft disks at rho={a.density} T={a.T} (equilibration {a.equil:g} tau = "
          f"{a.equil_tau_alpha:g} tau_alpha, {t_prep:.1f} s)")

    # --- the ensemble
    times = sorted({min(a.t_dw, a.tmax), a.tmax})
    ens = ensembles.IsoconfigurationalEnsemble(s, pot, n_runs=a.runs, T=a.T, dt=a.dt, seed=a.seed,
                                               integrator=a.integrator)
    t0 = time.perf_counter()
    res = ens.run(times=times)
    wall = time.perf_counter() - t0
    steps = int(round(a.tmax / a.dt))
    print(f"iso-configurational ensemble: {a.runs} runs x {a.tmax} tau ({steps} steps), wall {wall:.1f} s "
          f"({wall / a.runs:.2f} s per run, {a.runs * steps * s.N / wall:.3g} atom-steps/s incl. neighbour checks)")
    ir = res.ir_probability[-1]
    marked = ir >= a.ir_level
    print(f"neighbour cutoffs (g(r) minima): {np.round(ens.cutoffs, 3).tolist()}")
    print(f"IR particles (P >= {a.ir_level}) at t = {a.tmax}: {int(marked.sum())} of {s.N}; "
          f"mean propensity {res.propensity[-1].mean():.3f}; mean DW({times[0]}) {res.debye_waller[0].mean():.4f}")
    hist, counts = res.recovery_histogram()
    print("Fig. S1 P(n | x) (rows x = 1..5):")
    for x in range(hist.shape[0]):
        print(f"  x={x + 1} ({counts[x]:5d} obs): " + " ".join(f"{v:.3f}" for v in np.nan_to_num(hist[x])))
    np.savez_compressed(os.path.join(a.out, "ensemble.npz"), times=res.times, seeds=res.seeds,
                        propensity=res.propensity, debye_waller=res.debye_waller, ir_probability=res.ir_probability,
                        first_loss_times=res.reorganisation_times, positions=s.positions, types=s.types,
                        box=s.box.lengths)

    # --- participation map, overlay and overlap
    if not a.skip_modes:
        from pyglass import landscape
        from pyglass.engine.minimizers import FIRE, ConjugateGradient
        q = s.copy()
        r = ConjugateGradient(ftol=1e-10).minimize(q, pot)            # paper 1: conjugate gradient
        if not r.converged:
            print(f"CG stopped ({r.reason}, max force {r.max_force:.2e}); finishing with FIRE")
            r = FIRE(ftol=1e-10).minimize(q, pot)
        print(f"quench (CG): converged={r.converged} energy/N={r.energy / q.N:.6f} max force {r.max_force:.2e}")
        part = landscape.lowest_modes(q, pot, k=a.modes).participation_fractions(n_modes=a.modes)
        path = os.path.join(a.out, "participation_ir.png")
        maps.draw_field_map(s.positions, s.box, part, path, highlight=marked, label="participation fraction",
                            title=f"{a.modes} lowest modes; IR particles (P >= {a.ir_level}) circled")
        pairs = observables.neighbour_pairs(s.positions, s.box, s.types, ens.cutoffs)
        # SI §5: % of IR-cluster particles (P >= 0.01, clusters >= 5) inside mode clusters (p > threshold)
        sc = observables.ir_mode_overlap(ir, part, s.positions, s.box, ir_level=a.ir_level,
                                         mode_threshold=a.mode_threshold, min_cluster=a.ir_min_cluster,
                                         random_samples=a.random_maps, seed=a.seed, neighbours=pairs)
        print(f"SI §5 overlap: {sc.score:.1f} % of {sc.n_ir_clustered} IR-cluster particles (of {sc.n_ir} with "
              f"P >= {a.ir_level}) lie in mode clusters ({sc.n_mode_clustered} particles, p > {a.mode_threshold:.4g}, "
              f"clusters >= {a.ir_min_cluster}); random IR maps: {sc.random_mean:.1f} +- {sc.random_std:.1f} % "
              "(paper Fig. S8: ~50 % against random)")
        # SI §4: Debye-Waller metric, top 10 % of both maps, clusters >= 3
        dw = res.debye_waller[0]
        o_dw = observables.overlap(dw, part, s.positions, s.box, a.fraction, a.min_cluster, neighbours=pairs)
        m, sd, _ = observables.overlap_random_baseline(dw, s.positions, s.box, a.fraction, a.min_cluster,
                                                       n_samples=a.random_maps, seed=a.seed, neighbours=pairs)
        print(f"SI §4 overlap O(Debye-Waller at {times[0]} tau, participation), top {a.fraction:.0%}, clusters >= "
              f"{a.min_cluster}: {o_dw:.3f}  (random maps: {m:.3f} +- {sd:.3f})")
        print(f"wrote {path}")
    else:
        path = os.path.join(a.out, "ir_probability.png")
        maps.draw_field_map(s.positions, s.box, np.log10(np.maximum(ir, 1.0 / a.runs / 10)), path,
                            highlight=marked, label="log10 P(IR)")
        print(f"wrote {path} (no participation map: --skip-modes)")

    # --- throughput: the same runs as separate LAMMPS jobs
    if a.lammps_runs > 0:
        bsteps = int(round(a.bench_time / a.dt))
        pg = []
        for k in range(a.lammps_runs):
            e1 = ensembles.IsoconfigurationalEnsemble(s, pot, 1, T=a.T, dt=a.dt, seeds=[1000 + k],
                                                      cutoffs=ens.cutoffs, integrator=a.integrator)
            t0 = time.perf_counter()
            e1.run([a.bench_time])
            pg.append(time.perf_counter() - t0)
        pg = np.array(pg)
        lj = lammps_jobs(s, a, bsteps, a.lammps_runs)
        full_runs, full_steps, full_n = 100, int(round(200.0 / a.dt)), 1024
        md_scale = (full_steps / bsteps) * (full_n / s.N)
        print(f"\nthroughput, measured: {a.lammps_runs} runs of {bsteps} steps, N={s.N}, on this machine "
              f"(2 cores shared with other jobs: timings are noisy)")
        print(f"  pyglass ensemble member (incl. neighbour-loss checks): median {np.median(pg):.3f} s per run "
              f"({bsteps * s.N / np.median(pg):.3g} atom-steps/s)")
        if lj is not None:
            lw, ll = lj
            over = np.median(lw - ll)
            print(f"  LAMMPS separate job (lmp, 1 rank, pair {a.lammps_pair}): median wall {np.median(lw):.3f} s per job = "
                  f"MD loop {np.median(ll):.3f} s ({bsteps * s.N / np.median(ll):.3g} atom-steps/s) + start-up/IO "
                  f"{over:.3f} s")
            print(f"  ratio LAMMPS-job wall / pyglass-member wall: {np.median(lw) / np.median(pg):.2f}; "
                  f"MD loop only: {np.median(ll) / np.median(pg):.2f}")
        print("extrapolated (not measured) to the paper's scale, 100 runs x 200 tau x N=1024 on one core "
              "(MD cost linear in N and steps, start-up per job constant):")
        print(f"  pyglass ensemble: {full_runs * np.median(pg) * md_scale / 3600:.2f} h")
        if lj is not None:
            print(f"  LAMMPS as 100 separate jobs: {full_runs * (np.median(ll) * md_scale + over) / 3600:.2f} h "
                  f"(of which start-up {full_runs * over / 60:.1f} min; LAMMPS would still need trajectory dumps "
                  "and post-processing for the neighbour analysis, not counted)")
        print(f"  from the ensemble measured above ({wall:.1f} s for {a.runs} runs x {steps} steps x N={s.N}): "
              f"{wall * (full_runs / a.runs) * (full_steps / steps) * (full_n / s.N) / 3600:.2f} h")


if __name__ == "__main__":
    main()
