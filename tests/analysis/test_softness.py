"""pyglass.analysis.softness: structure functions against naive numpy sums (2D, 3D, boxes just wider than
2 r_max and thinner than it), invariances, the SVM softness (accuracy, sign, persistence), the
statistics against naive references or analytic cases, and the caging-potential softness."""
import json
import os

import numpy as np
import pytest
from scipy.integrate import trapezoid

from pyglass import builders, softness
from pyglass.analysis.softness import caging, statistics as st
from pyglass.engine.system import Box, System
from helpers import REF  # noqa: E402


# ------------------------------------------------------------------------------ naive references
def _images(dim, nimg):
    rng = np.arange(-nimg, nimg + 1)
    return np.stack(np.meshgrid(*[rng] * dim, indexing="ij"), -1).reshape(-1, dim)


def naive_structure_functions(x, L, types, nt, sf, nimg=0):
    """Direct sums over every periodic image within the cutoffs (nimg = 0: minimum image)."""
    n, d = x.shape
    rows = []
    pairs = [(a, b) for a in range(nt) for b in range(a, nt)]
    for i in range(n):
        if nimg == 0:
            dr = x - x[i]
            dr -= L * np.round(dr / L)
            dr, tj = np.delete(dr, i, 0), np.delete(types, i)
        else:
            sh = _images(d, nimg) * L
            dr = (x[None, :, :] + sh[:, None, :] - x[i]).reshape(-1, d)
            tj = np.tile(types, len(sh))
            keep = np.linalg.norm(dr, axis=1) > 1e-12
            dr, tj = dr[keep], tj[keep]
        r = np.linalg.norm(dr, axis=1)
        G = np.zeros((nt, sf.mu.size))
        for X in range(nt):
            m = (tj == X) & (r < sf.r_max)
            G[X] = np.exp(-(r[m, None] - sf.mu[None, :]) ** 2 / (2 * sf.sigma ** 2)).sum(0)
        P = np.zeros((len(pairs), len(sf.angular)))
        nb = np.flatnonzero(r < sf.r_max_angular)
        j, k = np.triu_indices(len(nb), 1)
        j, k = nb[j], nb[k]
        s = r[j] ** 2 + r[k] ** 2 + np.sum((dr[k] - dr[j]) ** 2, 1)
        c = np.sum(dr[j] * dr[k], 1) / (r[j] * r[k])
        pj = np.array([pairs.index(tuple(sorted(t))) for t in zip(tj[j], tj[k])], int).reshape(-1)
        for f, (xi, lam, z) in enumerate(sf.angular):
            v = np.exp(-s / xi ** 2) * (1 + lam * c) ** z
            P[:, f] = np.bincount(pj, v, minlength=len(pairs))
        rows.append(np.concatenate([G.ravel(), P.ravel()]))
    return np.array(rows)


def _sparse_system(n, dim, density, seed):
    return builders.random_packing(n, density, dim, (0.8, 0.2), seed=seed, min_distance=0.7)


# ------------------------------------------------------------------------------ structure functions
@pytest.mark.parametrize("dim,n,density", [(2, 56, 0.5), (3, 340, 0.3)])
def test_structure_functions_equal_naive_sums(dim, n, density):
    s = _sparse_system(n, dim, density, seed=3)
    L = s.box.lengths[:dim]
    assert 2 * 5.0 < L.min() < 2 * 5.0 + 0.6            # just wider than 2 r_max
    sf = softness.StructureFunctions()
    X = sf.compute(s)
    ref = naive_structure_functions(s.positions, L, s.types, s.n_types, sf)
    assert X.shape == (n, 266) and sf.n_radial == 200 and len(sf.names) == 266
    np.testing.assert_allclose(X, ref, rtol=1e-10, atol=0)
    assert np.all(X[:, :sf.n_radial].sum(0) > 0)


@pytest.mark.parametrize("dim", [2, 3])
def test_structure_functions_in_a_box_thinner_than_2_rmax_count_every_image(dim):
    s = _sparse_system(24 if dim == 3 else 12, dim, 0.4, seed=5)
    sf = softness.StructureFunctions(mu=np.linspace(0.1, 3.0, 30), r_max=3.0, r_max_angular=2.0)
    L = s.box.lengths[:dim]
    assert L.min() < 2 * sf.r_max
    X = sf.compute(s)
    ref = naive_structure_functions(s.positions, L, s.types, s.n_types, sf, nimg=int(np.ceil(3.0 / L.min())) + 1)
    np.testing.assert_allclose(X, ref, rtol=1e-10, atol=0)


@pytest.mark.parametrize("xis", [(0.8, 1.0, 1.3), (0.7, 0.9, 1.1, 1.4, 2.0)])
def test_structure_functions_custom_grid_equal_naive_sums(xis):
    """Any grid: several (λ, ζ) tiles, ζ = 0 and ζ = 33 (six bits), λ not ±1, one or three species,
    more ξ than the vectorised path holds (the general path)."""
    ang = [(xi, lam, z) for xi in xis for lam, z in ((-1.0, 1), (1.0, 0), (0.5, 3), (-0.3, 33),
                                                    (1.0, 2), (-1.0, 6), (1.0, 16), (0.2, 5), (1.0, 1))]
    sf = softness.StructureFunctions(sigma=0.1, mu=np.linspace(0.3, 2.5, 12), r_max=2.6,
                                     angular=ang[::2] if len(xis) > 3 else ang, r_max_angular=2.2)
    for seed, comp in ((1, (0.5, 0.3, 0.2)), (2, (1.0,))):
        s = builders.random_packing(150, 0.7, 3, comp, seed=seed, min_distance=0.7)
        X = sf.compute(s)
        ref = naive_structure_functions(s.positions, s.box.lengths, s.types, s.n_types, sf)
        np.testing.assert_allclose(X, ref, rtol=1e-10, atol=0)


def test_structure_functions_invariant_to_wrapping_and_particle_order():
    s = _sparse_system(200, 3, 0.25, seed=7)
    sf = softness.StructureFunctions()
    X = sf.compute(s)
    L = s.box.lengths
    rng = np.random.default_rng(0)
    shifted = s.positions + L * rng.integers(-2, 3, size=(1, 3)) + 0.37 * L  # rewrapped by System
    perm = rng.permutation(s.N)
    s2 = System(shifted[perm], Box(L), s.types[perm], s.type_names)
    X2 = sf.compute(s2)
    # shift by 0.37 L then rewrap: every distance is unchanged
    np.testing.assert_allclose(X2, X[perm], rtol=1e-11, atol=1e-300)
    # positions argument (e.g. inherent structures) in the same box
    np.testing.assert_allclose(sf.compute(s, positions=s.positions + 3 * L), X, rtol=1e-11, atol=1e-300)


def test_structure_function_columns_and_grid():
    sf = softness.StructureFunctions()
    assert np.allclose(sf.mu, 0.05 * np.arange(1, 101)) and sf.sigma == 0.05 and sf.r_max == 5.0
    assert len(sf.angular) == 22 and len(set(sf.angular)) == 22
    s = _sparse_system(100, 3, 0.2, seed=1)
    X = sf.compute(s)
    names = sf.names
    assert len(set(names)) == 266 and names[0].startswith("G_A") and names[100].startswith("G_B")
    assert names[200].startswith("Psi_AA") and names[-1].startswith("Psi_BB")
    # radial B block = radial structure functions counting only B neighbours
    only_b = X[:, 100:200]
    x = s.positions.copy()
    types = s.types.copy()
    s_a = System(x, s.box, np.where(types == 1, 1, 0), s.type_names)
    np.testing.assert_allclose(softness.StructureFunctions(angular=()).compute(s_a)[:, 100:200], only_b)
    g = sf.grid()
    assert json.loads(json.dumps(g))["type_names"] == ["A", "B"]
    sf2 = softness.StructureFunctions.from_grid(g)
    np.testing.assert_array_equal(sf2.compute(s), X)
    with pytest.raises(ValueError):
        softness.StructureFunctions(angular=[(1.0, 1.0, 1.5)])


def _fused_kernel_used(sf):
    xis = sorted({a[0] for a in sf.angular})
    lzs = sorted({(a[1], a[2]) for a in sf.angular})
    n_lanes = -(-len(lzs) // 8) * 8
    return sf._fused_recipe(xis, lzs, n_lanes) is not None


needs_fused = pytest.mark.skipif(not softness.structure_functions._sf.HAVE_FUSED,
                                 reason="the fused angular kernel needs an AVX-512 build")


@needs_fused
@pytest.mark.parametrize("dim", [2, 3])
def test_fused_angular_kernel_equals_the_general_one_at_the_default_grid(dim):
    """The default grid runs the fused kernel; the general (lane) kernel, checked against naive
    sums above, gives the same columns on a dense box thinner than 2 r_max (images count)."""
    s = builders.lattice(300 if dim == 3 else 200, 1.2 if dim == 3 else 0.9, dim, (0.8, 0.2), seed=2, jitter=0.1)
    sf = softness.StructureFunctions()
    assert _fused_kernel_used(sf)
    fused = sf.compute_angular(s)
    sf._kernel = "general"
    general = sf.compute_angular(s)
    assert fused.shape == (s.N, 66) and np.all(general > 0)
    np.testing.assert_allclose(fused, general, rtol=1e-12, atol=0)


@needs_fused
@pytest.mark.parametrize("xis,lams_zetas", [
    # zeta = 0 slots, chains 1 -> 2 -> 8 -> 32, lambda not +-1, one xi (NXI = 1)
    ((0.9,), [(-1.0, 0), (-1.0, 1), (-1.0, 2), (-1.0, 8), (-1.0, 32), (0.5, 4), (1.0, 1), (1.0, 16)]),
    # four xi (the most the fused kernel holds), two tiles of slots, a chain across a tile edge
    ((0.8, 1.0, 1.2, 1.6), [(lam, z) for lam in (-1.0, -0.4, 1.0) for z in (1, 2, 4, 16)]),
])
def test_fused_angular_kernel_custom_grids_equal_naive_sums(xis, lams_zetas):
    ang = [(xi, lam, z) for xi in xis for lam, z in lams_zetas][::-1]
    sf = softness.StructureFunctions(sigma=0.1, mu=np.linspace(0.3, 2.5, 12), r_max=2.6, angular=ang,
                                     r_max_angular=2.2)
    assert _fused_kernel_used(sf)
    s = builders.random_packing(120, 0.7, 3, (0.5, 0.3, 0.2), seed=4, min_distance=0.7)
    X = sf.compute(s)
    ref = naive_structure_functions(s.positions, s.box.lengths, s.types, s.n_types, sf)
    np.testing.assert_allclose(X, ref, rtol=1e-10, atol=0)


def test_kernel_choice_falls_back_to_the_general_kernel():
    """Grids the fused kernel cannot hold (zeta not a power of two, five xi, exponentials that could
    underflow, the cosine cutoff) run the general kernel."""
    assert not _fused_kernel_used(softness.StructureFunctions(angular=[(1.0, 1.0, 3)]))
    assert not _fused_kernel_used(softness.StructureFunctions(angular=[(x, 1.0, 1) for x in (1, 2, 3, 4, 5)]))
    assert not _fused_kernel_used(softness.StructureFunctions(angular=[(0.4, 1.0, 1)]))   # 6 r^2 / xi^2 > 700
    assert not _fused_kernel_used(softness.StructureFunctions(cutoff="cosine"))
    assert _fused_kernel_used(softness.StructureFunctions()) == softness.structure_functions._sf.HAVE_FUSED


def test_radial_windows_with_evenly_spaced_and_unsorted_centres_equal_naive_sums():
    """The radial kernel evaluates only the centres whose Gaussian is not below exp's underflow:
    found by arithmetic for evenly spaced centres (to the bit), by bisection otherwise, and
    unsorted centres are sorted and put back."""
    s = _sparse_system(150, 3, 0.3, seed=9)
    for mu in (0.125 * np.arange(1, 30), np.random.default_rng(1).permutation(np.linspace(0.2, 3.4, 23))):
        sf = softness.StructureFunctions(sigma=0.04, mu=mu, r_max=3.5, angular=())
        X = sf.compute(s)
        ref = naive_structure_functions(s.positions, s.box.lengths, s.types, s.n_types, sf)
        assert np.any(X == 0) and np.any(X > 0)
        np.testing.assert_allclose(X, ref, rtol=1e-10, atol=0)


@pytest.mark.parametrize("r_cut", [2.2, 2.8])
def test_cosine_cutoff_option_equals_dscribe_acsf(r_cut):
    """cutoff="cosine" against DScribe's ACSF G2 and G4 (tests/reference/dscribe_acsf.npz from
    scripts/make_dscribe_reference.py): ours = G2 with eta = 1/(2 sigma^2), and G4 with
    eta = 1/xi^2 times 2^(zeta - 1) (DScribe's prefactor 2^(1 - zeta)); r_cut = 2.8 is above half the
    box, where a neighbour's images count twice."""
    d = np.load(os.path.join(REF, "dscribe_acsf.npz"))
    s = System(d["positions"], Box(d["box"]), d["types"], ["A", "B"])
    ang = [(float(xi), float(lam), int(z)) for xi, lam, z in d["angular"]]
    sf = softness.StructureFunctions(sigma=float(d["sigma"]), mu=d["mu"], r_max=r_cut, angular=ang,
                                     cutoff="cosine")
    X = sf.compute(s)
    G = X[:, :sf.n_radial].reshape(s.N, 2, -1)
    P = X[:, sf.n_radial:].reshape(s.N, 3, -1)
    g4 = d[f"g4_rc{r_cut}"] * 2.0 ** (np.array([a[2] for a in ang]) - 1)
    np.testing.assert_allclose(G, d[f"g2_rc{r_cut}"], rtol=1e-10, atol=0)
    np.testing.assert_allclose(P, g4, rtol=1e-10, atol=0)
    # the paper's hard cutoff differs (every term weighs 1 inside r_max)
    hard = softness.StructureFunctions(sigma=float(d["sigma"]), mu=d["mu"], r_max=r_cut, angular=ang).compute(s)
    assert np.all(hard[:, sf.n_radial:] > X[:, sf.n_radial:])
    # the option is part of the stored grid
    assert softness.StructureFunctions.from_grid(sf.grid()).cutoff == "cosine"
    with pytest.raises(ValueError, match="cutoff"):
        softness.StructureFunctions(cutoff="smooth")


# ------------------------------------------------------------------------------ SVM softness
def _separable(seed=0, n=400, M=30):
    rng = np.random.default_rng(seed)
    w = rng.normal(size=M)
    X = rng.normal(size=(n, M)) * rng.uniform(0.5, 5.0, size=M) + rng.normal(size=M) * 3
    m = (X - X.mean(0)) / X.std(0) @ w
    return X[m > 0.3], X[m < -0.3], X


def test_svm_accuracy_sign_and_persistence(tmp_path):
    Xr, Xs, X = _separable()
    model = softness.train(Xr, Xs, seed=1, provenance={"T": 0.47})
    assert model.accuracy > 0.95 and model.info["n_test"] > 0
    assert model.info["cv_accuracy_by_C"] is not None and model.C in softness.ml.DEFAULT_CS
    assert np.mean(model.predict(Xr) > 0) > 0.95 and np.mean(model.predict(Xs) < 0) > 0.95
    # swapping the classes flips the sign
    flipped = softness.train(Xs, Xr, C=model.C, seed=1)
    assert np.mean(np.sign(flipped.predict(X)) == -np.sign(model.predict(X))) > 0.95
    # geometric distance = decision / |w|
    np.testing.assert_allclose(model.predict(X, geometric=True) * np.linalg.norm(model.weights), model.predict(X))
    path = model.save(tmp_path / "svm")
    assert path.endswith(".json") and os.listdir(tmp_path) == ["svm.json"]   # one data-only file
    meta = json.load(open(path))
    assert meta["info"]["T"] == 0.47 and meta["info"]["sklearn_version"]
    assert len(meta["model"]["weights"]) == X.shape[1]
    loaded = softness.load(tmp_path / "svm")
    np.testing.assert_allclose(loaded.predict(X), model.predict(X), rtol=1e-12, atol=1e-12)
    # a damaged or foreign file is refused with a message, never executed
    meta["model"]["weights"] = meta["model"]["weights"][:-1]
    json.dump(meta, open(tmp_path / "bad.json", "w"))
    with pytest.raises(ValueError, match="inconsistent shapes"):
        softness.load(tmp_path / "bad.json")
    assert loaded.accuracy == model.accuracy
    # tiny training sets still give a held-out example of each class
    tiny = softness.train(Xr[:3], Xs[:3])
    assert tiny.info["n_test"] == 2 and np.isfinite(tiny.accuracy)


def test_svm_leaves_out_columns_constant_over_the_training_set(tmp_path):
    """A radial function below the first shell holds ~1e-200 in training; standardising it would blow
    a new frame's 1e-5 up to ~1e195. train() leaves such columns out and predict() ignores them."""
    Xr, Xs, X = _separable()
    rng = np.random.default_rng(3)
    tiny = lambda n: 1e-200 * rng.random((n, 1))   # noqa: E731
    model = softness.train(np.hstack([tiny(len(Xr)), Xr]), np.hstack([tiny(len(Xs)), Xs]), seed=1)
    assert model.columns.tolist() == list(range(1, X.shape[1] + 1)) and model.n_columns == X.shape[1] + 1
    plain = softness.train(Xr, Xs, seed=1)
    new = np.hstack([np.full((len(X), 1), 1e-5), X])
    np.testing.assert_allclose(model.predict(new), plain.predict(X), rtol=1e-10, atol=1e-10)
    loaded = softness.load(model.save(tmp_path / "svm"))
    np.testing.assert_array_equal(loaded.columns, model.columns)
    np.testing.assert_allclose(loaded.predict(new), model.predict(new), rtol=1e-12, atol=1e-12)
    with pytest.raises(ValueError, match="trained on 31 feature columns"):
        loaded.predict(X)


def test_svm_on_structure_functions_and_apply(tmp_path):
    s = builders.lattice(216, 1.2, 3, (0.8, 0.2), seed=2, jitter=0.1)
    sf = softness.StructureFunctions(mu=np.linspace(0.1, 3.0, 30), r_max=3.0)
    X = sf.compute(s)
    label = X[:, 5:15].sum(1) > np.median(X[:, 5:15].sum(1))      # a structural label
    model = softness.train(X[label], X[~label], grid=sf, seed=0)
    assert model.accuracy > 0.8
    np.testing.assert_allclose(model.apply(s), model.predict(X))
    model.save(tmp_path / "m")
    np.testing.assert_allclose(softness.load(tmp_path / "m").apply(s), model.predict(X))
    other = System(s.positions, s.box, s.types, ["X", "Y"])
    with pytest.raises(ValueError):
        model.apply(other)


def test_training_examples_from_phop():
    nf, n = 40, 6
    ph = np.full((nf, n), 0.01)
    ph[:3] = ph[-3:] = np.nan                      # window edges
    ph[10:14, 1] = [0.7, 0.9, 0.8, 0.65]           # one event peaking at frame 11
    ph[25:27, 1] = [0.61, 0.62]                    # a second event, peak at 26
    ph[20, 2] = 0.3                                # intermediate: neither class near frame 20
    ph[30, 4] = 0.95                               # species 1
    types = np.array([0, 0, 0, 1, 1, 1])
    rear, stab = softness.training_examples(ph, 0.6, 0.02, stable_frames=11, types=types, balance=False)
    assert sorted(map(tuple, rear)) == [(11, 1), (26, 1), (30, 4)]
    # naive stable set: every frame of the centred 11-frame window below 0.02 (NaN disqualifies)
    ref = {(t, i) for i in range(n) for t in range(5, nf - 5)
           if np.all(np.nan_to_num(ph[t - 5:t + 6, i], nan=1.0) < 0.02)}
    assert set(map(tuple, stab)) == ref
    r2, s2 = softness.training_examples(ph, 0.6, 0.02, stable_frames=11, types=types, seed=3)
    for sp in (0, 1):
        assert np.sum(types[r2[:, 1]] == sp) == np.sum(types[s2[:, 1]] == sp)
    feats = np.arange(nf * n * 2, dtype=float).reshape(nf, n, 2)
    np.testing.assert_array_equal(softness.gather_features(r2, feats), feats[r2[:, 0], r2[:, 1]])
    np.testing.assert_array_equal(softness.gather_features(r2, lambda f: feats[f]), feats[r2[:, 0], r2[:, 1]])


def test_training_examples_with_frame_stride():
    """frame_stride = 3: examples on frames 0, 3, 6, ... only; an event's example is its kept frame of
    largest p_hop (not its peak), an event with no kept frame is dropped, and the stable window is
    still tested on every frame (a high value on a dropped frame disqualifies the kept frames around it)."""
    nf, n, k = 30, 5, 3
    ph = np.full((nf, n), 0.01)
    ph[:2] = ph[-2:] = np.nan
    ph[14:22, 0] = [0.7, 0.8, 0.95, 0.7, 0.9, 0.65, 0.7, 0.62]   # peak at 16; kept 15, 18, 21 -> 18
    ph[7:9, 1] = [0.8, 0.9]                                      # frames 7, 8: no kept frame -> dropped
    ph[24, 2] = 0.7                                              # one frame, kept -> (24, 2)
    ph[4:7, 3] = [0.9, 0.7, 0.61]                                # peak at 4; only kept frame 6 -> (6, 3)
    ph[13, 4] = 0.3                                              # intermediate, on a dropped frame
    rear, stab = softness.training_examples(ph, 0.6, 0.02, stable_frames=5, balance=False, frame_stride=k)
    assert sorted(map(tuple, rear)) == [(6, 3), (18, 0), (24, 2)]
    ref = {(t, i) for i in range(n) for t in range(2, nf - 2) if t % k == 0
           and np.all(np.nan_to_num(ph[t - 2:t + 3, i], nan=1.0) < 0.02)}
    assert set(map(tuple, stab)) == ref and len(stab) == len(ref)
    assert (12, 4) not in ref and (15, 4) not in ref and {(9, 4), (18, 4)} <= ref   # 13 is in their windows
    assert (21, 0) not in ref and (6, 1) not in ref and (9, 1) not in ref and (12, 1) in ref
    # stride 1 takes every event at its peak; the strided stable set is the stride-1 set on kept frames
    r1, s1 = softness.training_examples(ph, 0.6, 0.02, stable_frames=5, balance=False)
    assert sorted(map(tuple, r1)) == [(4, 3), (8, 1), (16, 0), (24, 2)]
    assert {tuple(e) for e in s1 if e[0] % k == 0} == ref
    # balanced draws keep to the kept frames too
    types = np.array([0, 0, 1, 1, 1])
    r2, s2 = softness.training_examples(ph, 0.6, 0.02, stable_frames=5, types=types, seed=1, frame_stride=k)
    assert np.all(r2[:, 0] % k == 0) and np.all(s2[:, 0] % k == 0)
    assert {tuple(e) for e in s2} <= ref and len(r2) == len(s2) == 3
    for sp in (0, 1):
        assert np.sum(types[r2[:, 1]] == sp) == np.sum(types[s2[:, 1]] == sp)
    with pytest.raises(ValueError, match="frame_stride"):
        softness.training_examples(ph, frame_stride=0)


# ------------------------------------------------------------------------------ statistics
def test_arrhenius_and_onset_fit_recover_known_parameters():
    S = np.linspace(-2, 2, 9)
    T = np.array([0.42, 0.47, 0.52, 0.58, 0.64, 0.7])
    s0, e0, e1, e2, T0 = 1.5, 2.0, -0.8, 0.05, 0.74
    dE = e0 + e1 * S + e2 * S ** 2
    sig = s0 + (e1 * S + e2 * S ** 2) / T0
    P = np.exp(sig[None, :] - dE[None, :] / T[:, None])
    a = st.arrhenius_fit(T, P)
    np.testing.assert_allclose(a["dE"], dE, rtol=1e-9)
    np.testing.assert_allclose(a["sigma"], sig, rtol=1e-9)
    assert a["T0"] == pytest.approx(T0, rel=1e-9)
    o = st.onset_fit(S, T, P)
    for k, v in dict(sigma0=s0, e0=e0, e1=e1, e2=e2, T0=T0).items():
        assert o[k] == pytest.approx(v, rel=1e-6, abs=1e-8), k
    # the lines really cross at T0: P(R|S) independent of S there
    p_t0 = np.exp(a["sigma"] - a["dE"] / a["T0"])
    assert np.ptp(np.log(p_t0)) < 1e-8


def test_rearrangement_probability_and_mean_softness_against_naive():
    rng = np.random.default_rng(1)
    S = rng.normal(size=(20, 50))
    R = rng.random(S.shape) < 1 / (1 + np.exp(-2 * S))
    edges = np.linspace(-3, 3, 13)
    c, p, n, nr = st.rearrangement_probability(S, R, edges)
    for k in range(12):
        m = (S >= edges[k]) & (S < edges[k + 1])
        assert n[k] == m.sum() and nr[k] == (m & R).sum()
        if m.sum():
            assert p[k] == pytest.approx((m & R).sum() / m.sum())
    T = np.array([0.5, 0.6, 0.8])
    samples = [rng.normal(0.0, 0.1, 1000) for _ in T]
    samples = [x - x.mean() + 0.3 + 0.2 / t for x, t in zip(samples, T)]     # exact means a + b/T
    d = st.mean_softness(T, samples)
    assert d["a"] == pytest.approx(0.3) and d["b"] == pytest.approx(0.2)
    np.testing.assert_allclose(d["sem"], [np.std(x, ddof=1) / np.sqrt(1000) for x in samples])
    centres, dens = st.distribution(S, bins=10)
    assert np.sum(dens * np.diff(centres)[0]) == pytest.approx(1.0)


def test_spatial_correlation_and_distance_against_naive():
    s = _sparse_system(150, 3, 0.6, seed=4)
    rng = np.random.default_rng(2)
    S = rng.normal(size=s.N) + np.sin(s.positions[:, 0])
    r, C, cnt = st.spatial_correlation(s.positions, s.box, S, r_max=2.5, bins=10)
    L = s.box.lengths
    dr = s.positions[None] - s.positions[:, None]
    dr -= L * np.round(dr / L)
    d = np.linalg.norm(dr, axis=-1)
    iu = np.triu_indices(s.N, 1)
    dS = S - S.mean()
    prod = (dS[:, None] * dS[None, :])[iu]
    k = (d[iu] / 0.25).astype(int)
    for b in range(10):
        m = k == b
        if m.sum():
            assert C[b] == pytest.approx(prod[m].mean() / np.mean(dS ** 2), rel=1e-10)
            assert cnt[b] == m.sum()
    R = rng.random(s.N) < 0.1
    dist = st.distance_to_rearrangement(s.positions, s.box, R, r_max=3.0)
    dref = np.where(R, 0.0, np.min(np.where(R[None, :], d, np.inf), axis=1))
    dref[dref >= 3.0] = np.inf
    np.testing.assert_allclose(dist, dref, rtol=1e-12)


def test_time_correlation_and_propagator_against_naive():
    rng = np.random.default_rng(3)
    nf, n = 12, 80
    S = np.cumsum(rng.normal(size=(nf, n)), 0)
    lags, C = st.time_correlation(S, lags=[0, 1, 4])
    ref = [np.mean([np.corrcoef(S[t], S[t + l])[0, 1] for t in range(nf - l)]) for l in (0, 1, 4)]
    np.testing.assert_allclose(C, ref, rtol=1e-12)
    u = np.cumsum(rng.normal(scale=0.2, size=(nf, n, 3)), 0)
    e0, e1 = np.linspace(-6, 6, 5), np.linspace(-10, 10, 9)
    c0, c1, G, cnt = st.propagator(S, 3, e0, e1, unwrapped=u, max_displacement=0.5)
    H = np.zeros((4, 8))
    for t in range(nf - 3):
        for i in range(n):
            if np.max(np.linalg.norm(u[t:t + 4, i] - u[t, i], axis=1)) >= 0.5:
                continue
            a, b = np.searchsorted(e0, S[t, i], "right") - 1, np.searchsorted(e1, S[t + 3, i], "right") - 1
            if 0 <= a < 4 and 0 <= b < 8:
                H[a, b] += 1
    np.testing.assert_array_equal(cnt, H.sum(1))
    ok = cnt > 0
    np.testing.assert_allclose(G[ok], H[ok] / H[ok].sum(1, keepdims=True) / 2.5)


def test_softness_change_and_background_subtraction():
    rng = np.random.default_rng(4)
    n = 4000
    Sb = rng.normal(size=n)
    dist = rng.uniform(0, 10, n)
    eta_true = 0.5 * np.exp(-dist / 2) + 0.05
    Sa = Sb + eta_true * (0.3 - Sb)
    out = st.softness_change(Sb, Sa, dist, [0, 1, 2, 4, 10])
    # within a bin eta varies: compare the fitted slope with the naive regression
    for k, (lo, hi) in enumerate([(0, 1), (1, 2), (2, 4), (4, 10)]):
        m = (dist >= lo) & (dist < hi)
        slope = np.polyfit(Sb[m], Sa[m] - Sb[m], 1)[0]
        assert out["eta"][k] == pytest.approx(-slope)
        assert out["mean"][k] == pytest.approx(np.mean((Sa - Sb)[m]))
        assert out["var"][k] == pytest.approx(np.var((Sa - Sb)[m], ddof=1))
    # exact restoring law in one bin: eta and A come back
    o2 = st.softness_change(Sb, Sb + 0.2 * (0.3 - Sb), np.full(n, 0.5), [0, 1])
    assert o2["eta"][0] == pytest.approx(0.2) and o2["A"][0] == pytest.approx(0.3)
    # App. E: forward sum formulae then the inversion gives the rearrangement's part back
    eta1, eta2, v1, v2, s2 = 0.4, 0.1, 0.3, 0.05, 0.8
    eta = eta1 + eta2 - eta1 * eta2
    var = v1 + v2 - v1 * v2 / s2
    e, v = st.subtract_background(eta, var, eta2, v2, s2)
    assert e == pytest.approx(eta1) and v == pytest.approx(v1)


# ------------------------------------------------------------------------------ caging potential
def test_hnc_direct_correlation_low_density_limit():
    from pyglass.engine.potentials import KobAndersen
    pot = KobAndersen()
    r = np.linspace(0.7, 2.5, 200)
    beta = 1 / 0.8
    bu = beta * pot.pair_derivatives(0, 0, r, order=0)[0]
    g = np.exp(-bu)                                   # ρ → 0: g = e^{-βu}
    np.testing.assert_allclose(caging.hnc_direct_correlation(g, bu), np.expm1(-bu), rtol=1e-9, atol=1e-12)
    assert np.isnan(caging.hnc_direct_correlation(np.array([0.0]), np.array([1.0])))[0]


def _hnc_solve(r, bu, rho, iters=3000, mix=0.2):
    """Picard solution of OZ + HNC for one 3D component on a uniform grid (sine transforms)."""
    n = len(r)
    dr = r[1] - r[0]
    assert np.allclose(r, dr * np.arange(1, n + 1))       # DST-I grid
    k = np.pi * np.arange(1, n + 1) / (dr * (n + 1))
    S = np.sin(np.outer(k, r))
    fwd = lambda f: 4 * np.pi * dr / k * (S @ (r * f))
    dk = k[1] - k[0]
    inv = lambda F: dk / (2 * np.pi ** 2 * r) * (S.T @ (k * F))
    gam = np.zeros(n)
    for _ in range(iters):
        c = np.exp(-bu + gam) - 1 - gam
        ck = fwd(c)
        gk = rho * ck ** 2 / (1 - rho * ck)
        new = inv(gk)
        if np.max(np.abs(new - gam)) < 1e-12:
            gam = new
            break
        gam = (1 - mix) * gam + mix * new
    else:
        raise RuntimeError("HNC iteration did not converge")
    return np.exp(-bu + gam), fwd, inv


def test_hnc_closure_satisfies_ornstein_zernike_on_a_solved_fluid():
    r = 0.02 * np.arange(1, 601)
    bu = np.minimum(4 / 2.0 * (r ** -12.0 - r ** -6.0), 600.0)   # LJ at T = 2, rho = 0.2
    rho = 0.2
    g, fwd, inv = _hnc_solve(r, bu, rho)
    c = caging.hnc_direct_correlation(g, bu)
    h = g - 1
    ck = fwd(np.nan_to_num(c))
    hk = ck / (1 - rho * ck)
    # h = c + ρ c*h, checked in r space where g is not vanishing
    m = g > 1e-6
    np.testing.assert_allclose(inv(hk)[m], h[m], atol=2e-6)
    assert np.max(np.abs(h)) > 0.1                    # a non-trivial structure


def test_local_rdf_against_naive_and_normalisation():
    s = _sparse_system(200, 3, 0.8, seed=6)
    assert s.box.lengths.min() > 2 * (2.5 + 6 * 0.09)
    r = np.linspace(0.3, 2.5, 221)
    gi = caging.local_rdf(s, r, delta=0.09)
    L = s.box.lengths
    dr = s.positions[None] - s.positions[:, None]
    dr -= L * np.round(dr / L)
    d = np.linalg.norm(dr, axis=-1)
    np.fill_diagonal(d, np.inf)
    rho = np.bincount(s.types) / s.box.volume
    cut = r.max() + 6 * 0.09
    for i in (0, 7, 50):
        for v in (0, 1):
            dj = d[i][(s.types == v) & (d[i] < cut)]
            ref = np.exp(-(r[:, None] - dj[None]) ** 2 / (2 * 0.09 ** 2)).sum(1) / (
                np.sqrt(2 * np.pi) * 0.09 * rho[v] * 4 * np.pi * r ** 2)
            np.testing.assert_allclose(gi[i, v], ref, rtol=1e-10, atol=1e-300)
    # ∫ ρ_v g_i^v 4πr² dr counts the v neighbours whose Gaussians lie inside the grid
    for i in range(10):
        for v in (0, 1):
            inside = np.sum((s.types == v) & (d[i] > 0.3 + 6 * 0.09) & (d[i] < 2.5 - 6 * 0.09))
            edge = np.sum((s.types == v) & (np.abs(d[i] - 0.3) < 6 * 0.09) | (s.types == v) & (np.abs(d[i] - 2.5) < 6 * 0.09))
            if edge == 0:
                assert trapezoid(rho[v] * gi[i, v] * 4 * np.pi * r ** 2, r) == pytest.approx(inside, abs=1e-4)


def test_caging_softness_on_small_ka_system():
    from pyglass.engine.minimizers import FIRE
    from pyglass.engine.potentials import KobAndersen
    s = builders.random_packing(400, 1.2, 3, (0.8, 0.2), seed=2, min_distance=0.7)
    pot = KobAndersen()
    FIRE(max_iterations=300).minimize(s, pot)        # a KA-like amorphous structure, cheaply
    cp = caging.CagingPotential(pot, temperature=0.47)
    cp.fit_reference(s.positions, s.box, s.types)
    ref = cp.reference
    assert np.all(ref["lo"] < ref["hi"])
    assert 1.2 < ref["hi"][0, 0] < 1.7 and 0.95 < ref["hi"][0, 1] < 1.5   # first minima of g_AA, g_AB
    assert 0.8 < ref["lo"][0, 0] < 1.05
    phi = cp.compute(s)
    assert phi.shape == (s.N,) and np.all(np.isfinite(phi))
    # linear in g at fixed C: replacing the global g by the mean local g, the species-u mean of the
    # local depths equals the species-u global depth
    gi = caging.local_rdf(s, ref["r"], cp.delta, float(ref["hi"].max() + 6 * cp.delta))
    for u in (0, 1):
        ref["g"][u] = gi[s.types == u].mean(0)
    for u in (0, 1):
        assert phi[s.types == u].mean() == pytest.approx(cp.phi_r_average(u), rel=1e-10)
    # calibration over a "temperature series" with an exact line, then local softness
    phis = np.array([-3.0, -2.5, -2.0])
    c0, c1 = caging.calibrate(phis, 2.0 - 0.5 * phis)
    assert (c0, c1) == (pytest.approx(2.0), pytest.approx(-0.5))
    S = cp.softness(s, calibration=(c0, c1))
    np.testing.assert_allclose(S, 1 / (c0 + c1 * phi))
    # local depths are heterogeneous (paper 5 Fig. 3: a distribution, not one value)
    assert np.std(phi[s.types == 0]) > 0.05 * abs(np.mean(phi[s.types == 0]))


def test_caging_depth_deeper_and_broader_for_the_colder_structure():
    """Paper 5 Sec. IV A: "With a decrease in the temperature, we find a broadening and shift of
    the distribution" to a deeper caging potential (more negative βΦ_r with Eq. 5's sign)."""
    from pyglass.engine.integrators import NoseHoover
    from pyglass.engine.minimizers import FIRE
    from pyglass.engine.potentials import KobAndersen
    pot = KobAndersen()
    cold = builders.random_packing(400, 1.2, 3, (0.8, 0.2), seed=2, min_distance=0.7)
    FIRE(max_iterations=300).minimize(cold, pot)      # near an inherent structure: T -> 0
    hot = cold.copy()
    hot.thermalize(2.0, seed=1)
    NoseHoover(0.004, 2.0, 0.2).run(hot, pot, 300)
    out = {}
    for name, s, T in (("cold", cold, 0.47), ("hot", hot, 2.0)):
        cp = caging.CagingPotential(pot, T, bins=100).fit_reference(s.positions, s.box, s.types)
        phi = cp.compute(s)[s.types == 0]
        assert np.all(np.isfinite(phi))
        out[name] = (phi.mean(), phi.std(), cp.phi_r_average(0))
    assert out["cold"][0] < out["hot"][0] - 0.5        # deeper
    assert out["cold"][1] > 2 * out["hot"][1]          # broader
    assert out["cold"][2] < out["hot"][2]              # the global depth too


def test_caging_readings_and_reference_from_rdf():
    """compute_readings: the plain reading is compute(); a weight multiplies the integrand (a constant
    weight scales the depth); reference_from_rdf of the same g gives the same reference (paper 5's
    jackknife rebuilds it from block-averaged g)."""
    from pyglass.engine.minimizers import FIRE
    from pyglass.engine.potentials import KobAndersen
    s = builders.random_packing(300, 1.2, 3, (0.8, 0.2), seed=3, min_distance=0.7)
    pot = KobAndersen()
    FIRE(max_iterations=200).minimize(s, pot)
    cp = caging.CagingPotential(pot, temperature=0.5).fit_reference(s.positions, s.box, s.types)
    ref = cp.reference
    r = ref["r"]
    out = cp.compute_readings(s, weights={"x3": np.full(len(r), 3.0), "r2": r ** 2})
    np.testing.assert_allclose(out[""], cp.compute(s))
    np.testing.assert_allclose(out["x3"], 3 * out[""])
    assert not np.allclose(out["r2"], out[""])
    assert cp.phi_r_average(0, np.full(len(r), 3.0)) == pytest.approx(3 * cp.phi_r_average(0))
    cp2 = caging.CagingPotential(pot, temperature=0.5).reference_from_rdf(r, ref["g"], ref["x"], 3)
    for k in ("C", "lo", "hi"):
        np.testing.assert_allclose(np.nan_to_num(cp2.reference[k]), np.nan_to_num(ref[k]))
    assert cp2.phi_r_average(0) == pytest.approx(cp.phi_r_average(0))


def test_caging_depth_in_q_space_one_component():
    q = np.linspace(0.05, 30, 3000)
    Sq = 1 + 0.8 * np.exp(-(q - 7) ** 2) - 0.5 * np.exp(-q)
    F = (Sq - 1) ** 2 / Sq                           # one component: C = 1 - 1/S, times (S - 1)
    phi = caging.caging_depth_q(q, Sq[None, None], [1.0])
    assert phi == pytest.approx(-trapezoid(F * 4 * np.pi * q ** 2, q) / (2 * np.pi) ** 3, rel=1e-12)
    inv_s = trapezoid(F * q ** 2 * 4 * np.pi * q ** 2, q) / (2 * np.pi) ** 3 / 3
    assert caging.caging_softness_q(q, Sq[None, None], [1.0]) == pytest.approx(1 / inv_s, rel=1e-12)
    # the potential's curvature at 0 is 1/S (finite differences)
    h = 1e-3
    p = caging.caging_potential_q(q, Sq[None, None], [1.0], [0.0, h])
    assert p[0] == pytest.approx(phi, rel=1e-12)
    assert 2 * (p[1] - p[0]) / h ** 2 == pytest.approx(inv_s, rel=1e-4)
    # two uncorrelated species: C and S - 1 are diagonal, each species adds its own term
    S2 = np.zeros((2, 2, len(q)))
    S2[0, 0], S2[1, 1] = Sq, 1 + 0.5 * (Sq - 1)
    F1 = (0.5 * (Sq - 1)) ** 2 / S2[1, 1]
    ref = -trapezoid((0.3 * F + 0.7 * F1) * 4 * np.pi * q ** 2, q) / (2 * np.pi) ** 3
    assert caging.caging_depth_q(q, S2, [0.3, 0.7]) == pytest.approx(ref, rel=1e-10)
