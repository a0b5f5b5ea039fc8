#!/usr/bin/env python
"""Fig. 4-5 style curves of the TRSP lattice model (paper 4): Q(t), chi4(t), tau4(T), chi4*(T),
plus the dynamical length xi4 (Ornstein-Zernike fit of S4(q, tau4) and block scaling, Fig. 5c / 6).

usage:
  python scripts/trsp_curves.py                 # L from the deck (20), paper temperatures
  python scripts/trsp_curves.py --quick         # L = 8, few runs: a smoke test in ~1 minute
  python scripts/trsp_curves.py --out out/trsp.png --runs 20 --origins 4

Writes a PNG (matplotlib, Agg) and a text table beside it (same name, .txt).  Times are in
MD units tau; Q is the overlap "not yet rearranged" (Eq. 31), chi4 = N Var Q (Eq. 32),
averaged over independent equilibrium initial conditions and time origins (Sec. VI).
"""
import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # this checkout's pyglass, also when another one is installed

import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from pyglass.analysis.lattice import TRSPModel, load_deck  # noqa: E402


def mean_rate_time(model: TRSPModel) -> float:
    """1 / <rate per site> over the equilibrium P(S) (Gauss-Hermite): the trap-model time scale."""
    x, w = np.polynomial.hermite_e.hermegauss(60)
    S = model.mu + np.sqrt(model.correlation.C0) * x
    return float(1.0 / (np.sum(w * model.rate.rate(S)) / np.sum(w)))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--deck", default=str(ROOT / "inputs" / "trsp_ka.toml"))
    ap.add_argument("--out", default=str(ROOT / "out" / "trsp_curves.png"))
    ap.add_argument("--quick", action="store_true", help="small lattice and few runs (smoke test)")
    ap.add_argument("--L", type=int, default=None, help="override the deck's lattice size")
    ap.add_argument("--runs", type=int, default=None, help="independent initial conditions per T")
    ap.add_argument("--origins", type=int, default=None, help="time origins per run")
    ap.add_argument("--temperatures", type=float, nargs="*", default=None)
    ap.add_argument("--phi", type=float, default=None, help="facilitation weakening (Fig. 7)")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()

    deck = load_deck(args.deck)
    temps = args.temperatures or deck["model"].get("temperatures", [0.42, 0.47, 0.55, 0.7])
    L = args.L or (8 if args.quick else deck["model"]["L"])
    n_runs = args.runs or (3 if args.quick else 10)
    n_origins = args.origins or (2 if args.quick else 4)
    overrides = {"L": L}
    if args.phi is not None:
        overrides["phi"] = args.phi
    T0 = deck["rate"].get("T0", np.nan)

    results = []
    for k, T in enumerate(sorted(temps)):
        model = TRSPModel.from_file(args.deck, T=T, seed=args.seed + k, **overrides)
        tau = mean_rate_time(model)
        times = np.logspace(np.log10(tau / 30), np.log10(tau * 40), 36)
        t_max = times[-1]
        start = time.perf_counter()
        run = model.run(t_max=t_max, sample_times=times, n_runs=n_runs,
                        time_origins=np.arange(n_origins) * t_max / 2, snapshot_every=0)
        wall = time.perf_counter() - start
        tau4, chi4s = run.tau4, run.chi4_star
        try:
            _, xi_oz = run.ornstein_zernike()
        except Exception:  # fit can fail on tiny lattices; keep the curve, mark xi missing
            xi_oz = np.nan
        try:
            _, xi_block = run.xi4_from_blocks()
        except Exception:
            xi_block = np.nan
        # time to reach tau4 in one run: events until t = tau4 at the measured event rate
        event_rate = run.n_events / (n_runs * (t_max + (n_origins - 1) * t_max / 2))
        events_to_tau4 = event_rate * tau4
        wall_to_tau4 = wall * events_to_tau4 / max(run.n_events, 1)
        results.append(dict(T=T, times=times, Q=run.Q, chi4=run.chi4, tau4=tau4, chi4_star=chi4s,
                            xi_oz=xi_oz, xi_block=xi_block, events=run.n_events, wall=wall,
                            events_to_tau4=events_to_tau4, wall_to_tau4=wall_to_tau4))
        print(f"T={T:.3f}  tau4={tau4:10.4g}  chi4*={chi4s:7.3f}  xi4(OZ)={xi_oz:6.3f}  "
              f"xi4(blocks)={xi_block:6.3f}  events={run.n_events:9d}  wall={wall:7.1f}s  "
              f"one run to tau4: {events_to_tau4:9.0f} events, {wall_to_tau4:6.2f}s", flush=True)

    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(2, 3, figsize=(14, 8.5))
    cmap = plt.get_cmap("viridis")
    for i, r in enumerate(results):
        color = "red" if i == len(results) - 1 else cmap(i / max(len(results) - 1, 1))
        ax[0, 0].semilogx(r["times"], r["Q"], color=color, label=f"T = {r['T']:.2f}")
        ax[0, 1].loglog(r["times"], np.clip(r["chi4"], 1e-3, None), color=color)
    ax[0, 0].set(xlabel="t (MD units)", ylabel="Q(t)", title="(a) overlap, Eq. 31")
    ax[0, 0].legend(fontsize=8)
    ax[0, 1].set(xlabel="t (MD units)", ylabel=r"$\chi_4(t)$", title=r"(b) $\chi_4 = N\,\mathrm{Var}\,Q$")
    T = np.array([r["T"] for r in results])
    ax[0, 2].semilogy(1 / T, [r["tau4"] for r in results], "o--", color="purple")
    ax[0, 2].set(xlabel="1/T", ylabel=r"$\tau_4$", title=r"(c) $\tau_4$ (Fig. 5a)")
    ax[1, 0].plot(T, [r["chi4_star"] for r in results], "o--", color="purple")
    ax[1, 0].set(xlabel="T", ylabel=r"$\chi_4^*$", title=r"(d) $\chi_4^*$ (Fig. 5b)")
    x6 = 1 / T - 1 / T0
    ax[1, 1].plot(x6, [r["xi_oz"] for r in results], "o--", label="Ornstein-Zernike")
    ax[1, 1].plot(x6, [r["xi_block"] for r in results], "s:", label="block scaling")
    ax[1, 1].set(xlabel=r"$1/T - 1/T_0$", ylabel=r"$\xi_4$ (lattice spacings)",
                 title=r"(e) $\xi_4$ (Fig. 5c, 6)")
    ax[1, 1].legend(fontsize=8)
    ax[1, 2].axis("off")
    ax[1, 2].text(0.0, 0.95, "\n".join([
        f"deck: {Path(args.deck).name}", f"L = {L}, d = {deck['model']['d']}, m = {deck['model']['m']}",
        f"runs x origins per T: {n_runs} x {n_origins}",
        "parameters marked [read off figure] in the deck", "are estimates (see docs/lattice.md)",
        "quick mode: smoke test, not converged" if args.quick else ""]),
        va="top", fontsize=10, family="monospace")
    fig.suptitle("TRSP lattice model (paper 4, Figs. 4-5 style)")
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    table = out.with_suffix(".txt")
    with open(table, "w") as fh:
        fh.write("# T tau4 chi4_star xi4_OZ xi4_blocks events wall_s events_to_tau4 wall_to_tau4_s\n")
        for r in results:
            fh.write(f"{r['T']:.3f} {r['tau4']:.6g} {r['chi4_star']:.6g} {r['xi_oz']:.4g} "
                     f"{r['xi_block']:.4g} {r['events']} {r['wall']:.2f} {r['events_to_tau4']:.0f} "
                     f"{r['wall_to_tau4']:.3f}\n")
    print(f"wrote {out} and {table}")


if __name__ == "__main__":
    main()
