"""`shear`: sheared inherent structures.

protocol = "quasistatic": the inherent structure is sheared in increments to each strain and
re-minimised (landscape.shear_inherent_structures): stress, energy and non-affine displacements.
protocol = "affine-quench" (paper 3): the current equilibrium configuration X is deformed in one
affine step to each strain, then quenched; d = r^dq - r^q - gamma y^q e_x against the quenched
undeformed X^q, with sigma_xy^dq(gamma), e_IS(gamma), the residual forces and the strain of the stress
peak (landscape.affine_quench_response). With `modes = k` the k lowest non-zero modes of X^q and of
every X^dq(gamma) give participation maps p_i(N_m) over the N_m of `mode_sums` (zero modes counted, as
paper 3 does): the soft-mode maps p^q and p^dq(gamma) of the paper's overlaps.
"""
from __future__ import annotations

import numpy as np

from pyglass.registry import Key
from pyglass.workflow.stages import cost
from pyglass.workflow.stages.base import Stage, register


@register
class Shear(Stage):
    kind = "shear"
    phase = "landscape"
    doc = ("sheared configurations: protocol \"quasistatic\" shears the inherent structure in increments "
           "with re-minimisation; \"affine-quench\" (paper 3) deforms the equilibrium configuration in one "
           "step and quenches it, optionally with the soft modes of every quenched configuration. Writes "
           "gammas, stress_xy, energy_per_particle and the non-affine displacement magnitudes |d_i| "
           "(n_gamma, N); the system itself is left unchanged")
    keys = {
        "protocol": Key((str,), "quasistatic", "quasistatic (inherent structure) or affine-quench (paper 3, "
                        "from the equilibrium configuration)", ("quasistatic", "affine-quench")),
        "gammas": Key((list,), None, "strains (increasing, > 0); default: gamma_max / n_gamma steps",
                      items=float),
        "gamma_max": Key((int, float), 0.2, "largest strain (when `gammas` is not given)", lo=0, lo_open=True),
        "n_gamma": Key((int,), 20, "number of strains up to gamma_max", lo=1),
        "ftol": Key((int, float), 1e-10, "force tolerance of each minimisation", lo=0, lo_open=True),
        "displacements": Key((bool,), False, "also write the full displacement vectors (n_gamma, N, d)"),
        "modes": Key((int,), 0, "affine-quench: the number of lowest non-zero normal modes of X^q and of every "
                     "X^dq(gamma), kept as participation maps (0: none)", lo=0),
        "mode_sums": Key((list,), None, "affine-quench with modes: the N_m of the participation maps p_i = "
                         "sum_{j=d+1}^{N_m} (e_i^j)^2, counting the d zero modes as paper 3 does (increasing, "
                         "d+1..modes+d; default: one map over all the modes)", items=int),
        "mode_method": Key((str,), "auto", "solver of the modes (landscape.lowest_modes)",
                           ("auto", "block", "slepc", "scipy", "krylov", "lobpcg", "dense")),
        "mode_tol": Key((int, float), 1e-8, "eigenvalue tolerance of the modes", lo=0, lo_open=True),
    }
    writes = {"gammas": "array", "stress_xy": "array", "energy_per_particle": "array",
              "nonaffine_magnitude": "array"}
    AFFINE = {"stress_peak": "scalar", "max_force": "array", "max_force_q": "scalar", "energy_q": "scalar",
              "stress_q": "scalar"}
    MODES = {"mode_sums": "array", "participation_q": "array", "participation_dq": "array",
             "eigenvalues_q": "array", "eigenvalues_dq": "array"}

    @classmethod
    def applicable(cls, given):
        def why(k):
            if k in ("modes", "mode_sums", "mode_method", "mode_tol") and \
                    given.get("protocol", "quasistatic") != "affine-quench":
                return 'only applies with protocol = "affine-quench"'
            if k in ("mode_sums", "mode_method", "mode_tol") and not given.get("modes"):
                return "only applies with modes > 0"
            return None
        return why

    @classmethod
    def fields(cls, params):
        out = dict(cls.writes)
        if params.get("protocol") == "affine-quench":
            out.update(cls.AFFINE)
            if params.get("modes"):
                out.update(cls.MODES)
        return out

    @classmethod
    def documented_fields(cls):
        return list(cls.writes) + [f"{k} (affine-quench)" for k in cls.AFFINE] + \
            [f"{k} (affine-quench with modes)" for k in cls.MODES]

    @classmethod
    def needs_inherent(cls, params):
        return params.get("protocol", "quasistatic") == "quasistatic"

    @classmethod
    def check(cls, val, path, params):
        g = params.get("gammas")
        if g is not None and (not g or any(x <= 0 for x in g) or any(b <= a for a, b in zip(g, g[1:]))):
            val.error(path + ("gammas",), f"must be increasing strains > 0, got {g}")
        ms = params.get("mode_sums")
        if ms is not None and (not ms or any(b <= a for a, b in zip(ms, ms[1:]))):
            val.error(path + ("mode_sums",), f"must be increasing numbers of modes, got {ms}")

    @classmethod
    def check_cost(cls, val, path, params, n, dim):
        k = params.get("modes") or 0
        if not k:
            return
        if k > n * dim - dim:
            val.error(path + ("modes",), f"must be <= {n * dim - dim} (the non-zero modes of N = {n} in {dim}D), "
                      f"got {k}")
            return
        from pyglass.analysis.landscape.shear import check_mode_sums
        try:
            check_mode_sums(params.get("mode_sums"), k, dim)
        except ValueError as exc:
            val.error(path + ("mode_sums",), str(exc).removeprefix("mode_sums: "))

    @classmethod
    def estimate(cls, params, n, dim):
        m = len(params["gammas"]) if params.get("gammas") else params["n_gamma"]
        out = f"{m} strains, one minimisation each ({params['protocol']})"
        if params.get("modes"):
            out += f"; {params['modes']} modes of X^q and of each of the {m} X^dq"
        return out

    @classmethod
    def cost(cls, params, n, dim):
        m = len(params["gammas"]) if params.get("gammas") else params["n_gamma"]
        out = cost.quenches(m + (params["protocol"] == "affine-quench"), n)   # + X^q
        if params.get("modes"):     # a factorisation and its solves for X^q and for every X^dq
            out = out + cost.factorisation(n, dim, count=m + 1)
        return out

    def gammas(self):
        p = self.params
        if p.get("gammas"):
            return np.asarray(p["gammas"], float)
        return np.linspace(p["gamma_max"] / p["n_gamma"], p["gamma_max"], p["n_gamma"])

    def run(self, ctx):
        p = self.params
        gammas = self.gammas()
        with_modes = f", {p['modes']} modes of each quenched configuration" if p.get("modes") else ""
        ctx.print(f"stage {self.index + 1} ({p['name']}): {p['protocol']} shear to gamma = {gammas[-1]:g} "
                  f"in {len(gammas)} strains{with_modes}")
        whole = ctx.whole_system()
        pot = ctx.deck.build_potential()

        def compute():
            from pyglass.analysis import landscape
            if p["protocol"] == "quasistatic":
                r = landscape.shear_inherent_structures(whole, pot, gammas, ftol=p["ftol"])
                out = {"gammas": r.gammas, "stress_xy": r.stress_xy, "energy_per_particle": r.energy_per_particle,
                       "nonaffine_magnitude": r.nonaffine_magnitude()}
                disp = r.nonaffine
            else:
                k = p.get("modes", 0)
                r = landscape.affine_quench_response(whole, pot, gammas, ftol=p["ftol"], modes=k,
                                                     mode_sums=p.get("mode_sums"),
                                                     mode_method=p.get("mode_method", "auto"),
                                                     mode_tol=p.get("mode_tol", 1e-8))
                out = {"gammas": r.gammas, "stress_xy": r.stress, "energy_per_particle": r.energies,
                       "nonaffine_magnitude": r.magnitudes(), "stress_peak": r.stress_peak_strain,
                       "max_force": r.max_force, "max_force_q": float(np.abs(pot.forces(r.quenched)).max()),
                       "energy_q": r.energy_q, "stress_q": r.stress_q}
                if k:
                    out.update({"mode_sums": r.mode_sums, "participation_q": r.participation_q,
                                "participation_dq": r.participation_dq, "eigenvalues_q": r.eigenvalues_q,
                                "eigenvalues_dq": r.eigenvalues_dq})
                disp = r.displacements
            if p["displacements"]:
                out["displacements"] = disp
            return out

        res = ctx.on_root(compute)
        ctx.write_results(res)
        k = int(np.argmax(res["stress_xy"]))
        ctx.print(f"  stress_xy peaks at {res['stress_xy'][k]:.5g} (gamma = {res['gammas'][k]:g})")
