"""Reference g(r), S(q) and MSD from freud for small committed frames (tests/analysis/test_observables.py).

Run with the project venv:  python scripts/make_freud_references.py
  1. (project venv) makes the frames with pyglass: a short 2D binary soft-disk trajectory with many
     box crossings (wrapped positions + image counters) -> tests/reference/freud_frames.npz
  2. re-runs itself in the reference venv (freud; LD_LIBRARY_PATH=/tmp/venv-ref/lib
     /tmp/venv-ref/bin/python) -> tests/reference/freud_results.npz
Override the reference interpreter with PYGLASS_REF_PYTHON / PYGLASS_REF_LIB.
"""
import os
import subprocess
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
REF = os.path.join(HERE, "..", "tests", "reference")
FRAMES = os.path.join(REF, "freud_frames.npz")
RESULTS = os.path.join(REF, "freud_results.npz")
R_MAX, R_BINS = 4.0, 80
K_MAX, K_BINS = 10.0, 25


def make_frames():
    sys.path.insert(0, os.path.join(HERE, ".."))
    from pyglass import builders, integrators, potentials
    s = builders.random_packing(200, 0.8, 2, (0.5, 0.5), seed=3, min_distance=0.85)
    pot = potentials.SoftDisks2D()
    integrators.NoseHoover(0.005, 3.0, 0.5).run(s, pot, 400)
    pos, img = [], []
    for _ in range(40):
        integrators.NoseHoover(0.005, 3.0, 0.5).run(s, pot, 200)
        s.domain.rebuild()   # wrap into the cell so images carry every crossing
        pos.append(s.positions.copy())
        img.append(s.images.copy())
    # 3D frames for S(q) (freud's direct S(k) is 3D only)
    s3 = builders.random_packing(250, 1.0, 3, (0.8, 0.2), seed=4, min_distance=0.8)
    ka = potentials.KobAndersen()
    integrators.NoseHoover(0.002, 2.0, 0.2).run(s3, ka, 300)
    pos3 = []
    for _ in range(5):
        integrators.NoseHoover(0.002, 2.0, 0.2).run(s3, ka, 100)
        s3.domain.rebuild()
        pos3.append(s3.positions.copy())
    np.savez_compressed(FRAMES, positions=np.array(pos), images=np.array(img), types=s.types,
                        box=s.box.lengths, positions3d=np.array(pos3), types3d=s3.types, box3d=s3.box.lengths)
    print(f"wrote {FRAMES}: {len(pos)} frames, N={s.N}, max |image| = {np.abs(np.array(img)).max()}")


def with_freud():
    import freud
    d = np.load(FRAMES)
    pos, img, types, L = d["positions"], d["images"], d["types"], d["box"]
    box = freud.box.Box.square(L[0]) if L[0] == L[1] else freud.box.Box(Lx=L[0], Ly=L[1], is2D=True)
    to3 = lambda x: np.c_[x - L / 2, np.zeros(len(x))]   # freud boxes are centred at the origin
    out = {}
    rdf = freud.density.RDF(bins=R_BINS, r_max=R_MAX)
    for x in pos:
        rdf.compute(system=(box, to3(x)), reset=False)
    out["rdf_r"], out["rdf_total"] = rdf.bin_centers, rdf.rdf
    rab = freud.density.RDF(bins=R_BINS, r_max=R_MAX)
    for x in pos:
        rab.compute(system=(box, to3(x[types == 1])), query_points=to3(x[types == 0]), reset=False)
    out["rdf_ab"] = rab.rdf
    L3 = d["box3d"]
    box3 = freud.box.Box(Lx=L3[0], Ly=L3[1], Lz=L3[2])
    ssf = freud.diffraction.StaticStructureFactorDirect(bins=K_BINS, k_max=K_MAX, k_min=0)
    for x in d["positions3d"]:
        ssf.compute(system=(box3, x - L3 / 2), reset=False)
    out["sq_k"], out["sq"] = ssf.bin_centers, ssf.S_k
    p3 = np.stack([to3(x) for x in pos])
    i3 = np.concatenate([img, np.zeros(img.shape[:2] + (1,), img.dtype)], axis=2)
    out["msd"] = freud.msd.MSD(box, mode="window").compute(p3, i3).msd
    np.savez_compressed(RESULTS, **out, freud_version=freud.__version__)
    print(f"wrote {RESULTS} with freud {freud.__version__}")


if __name__ == "__main__":
    try:
        import freud  # noqa: F401
    except ImportError:
        make_frames()
        py = os.environ.get("PYGLASS_REF_PYTHON", "/tmp/venv-ref/bin/python")
        env = dict(os.environ, LD_LIBRARY_PATH=os.environ.get("PYGLASS_REF_LIB", "/tmp/venv-ref/lib"))
        subprocess.run([py, os.path.abspath(__file__)], check=True, env=env)
    else:
        with_freud()
