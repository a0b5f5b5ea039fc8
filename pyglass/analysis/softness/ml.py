"""ML softness (paper 4, Sec. II; Schoenholz et al. 2016): training sets from p_hop, a linear SVM on
standardised structure functions, softness S = signed distance to the hyperplane.

Training set (paper 4: "rearrangements with p_hop > 0.6 as our rearranging examples and particles
which have p_hop < 0.02 for 1000τ ~ 2τα as the non-rearranging examples", at T = 0.47, on
inherent-structure positions):
- rearranging: for each excursion of p_hop(i, t) above `p_rearranging`, the frame of its peak
  (our choice: one example per event, at the event);
- stable: (frame t, particle i) with p_hop(i, t') < `p_stable` for every t' in the window of
  `stable_frames` frames centred on t (NaN frames, where p_hop is undefined, disqualify);
- balanced per species: as many stable as rearranging examples of each species (seeded draw).

Model: scikit-learn Pipeline(StandardScaler, LinearSVC), C chosen by stratified k-fold
cross-validation on the training part, accuracy reported on a held-out stratified split never
seen by the fit or the C search. S(x) = decision_function(x) = w·z(x) + b (z the standardised
features): paper 4 Eq. (1), S = w0 + Σ w_a g_a, positive on the rearranging side, in units where
the margins sit at S = ±1. `predict(X, geometric=True)` divides by |w| (Euclidean distance in
standardised feature space).

Persistence: `save(path)` writes `path.json`, data only: the fitted StandardScaler (mean, scale)
and LinearSVC (weights, intercept, C, classes) arrays, the structure-function grid and the training
provenance. `load` rebuilds the scikit-learn Pipeline from those numbers, so a model file received
from someone else runs no code (scikit-learn's joblib persistence would).
"""
from __future__ import annotations

import datetime
import json
import os

import numpy as np

DEFAULT_CS = (0.001, 0.01, 0.1, 1.0, 10.0)


# ------------------------------------------------------------------------------------ training set
def _runs_above(mask):
    """Per particle, (start, end) frame ranges of consecutive True in a (frames,) mask."""
    m = np.concatenate([[False], mask, [False]]).astype(np.int8)
    d = np.diff(m)
    return np.flatnonzero(d == 1), np.flatnonzero(d == -1)


def training_examples(phop, p_rearranging: float = 0.6, p_stable: float = 0.02,
                      stable_frames: int = 1, types=None, balance: bool = True, seed: int = 0,
                      max_per_species: int | None = None, frame_stride: int = 1):
    """Select (frame, particle) examples from a (frames, N) p_hop array (NaN where undefined).

    `frame_stride` > 1 puts examples only on frames t % frame_stride == 0 (features are then needed at
    those frames only): an event's example is its kept frame of largest p_hop (events with no kept
    frame are dropped); the stable windows are still tested on every frame.
    Returns (rearranging, stable): two (n, 2) int arrays of (frame, particle). With `balance`,
    each species contributes as many stable as rearranging examples (fewer if there are not
    enough), drawn with `seed`; `max_per_species` caps both classes."""
    p = np.asarray(phop, float)
    if p.ndim != 2:
        raise ValueError(f"phop must be (frames, N), got {p.shape}")
    nf, n = p.shape
    types = np.zeros(n, np.int64) if types is None else np.asarray(types, np.int64)
    if not p_stable <= p_rearranging:
        raise ValueError(f"p_stable ({p_stable}) must not exceed p_rearranging ({p_rearranging})")
    stride = int(frame_stride)
    if stride < 1:
        raise ValueError(f"frame_stride must be >= 1, got {frame_stride}")
    above = np.nan_to_num(p, nan=-np.inf) > p_rearranging
    rear = []
    for i in np.flatnonzero(above.any(0)):
        s, e = _runs_above(above[:, i])
        for a, b in zip(s, e):
            first = -(-a // stride) * stride           # first kept frame of the excursion
            if first < b:
                rear.append((first + stride * int(np.argmax(p[first:b:stride, i])), i))
    rear = np.array(rear, np.int64).reshape(-1, 2)
    w = int(stable_frames)
    if w < 1:
        raise ValueError(f"stable_frames must be >= 1, got {stable_frames}")
    low = (np.nan_to_num(p, nan=np.inf) < p_stable).astype(np.int64)
    c = np.concatenate([np.zeros((1, n), np.int64), np.cumsum(low, 0)])
    h0, h1 = (w - 1) // 2, w - 1 - (w - 1) // 2
    t = np.arange(h0, nf - h1)
    t = t[t % stride == 0]
    ok = (c[t + h1 + 1] - c[t - h0]) == w            # (len(t), N): whole window below p_stable
    tf, ti = np.nonzero(ok)
    stable = np.stack([t[tf], ti], 1) if tf.size else np.zeros((0, 2), np.int64)
    if not balance and max_per_species is None:
        return rear, stable
    rng = np.random.default_rng(seed)
    out_r, out_s = [], []
    for sp in np.unique(types):
        r_sp = rear[types[rear[:, 1]] == sp]
        s_sp = stable[types[stable[:, 1]] == sp]
        k_r = len(r_sp) if max_per_species is None else min(len(r_sp), max_per_species)
        k_s = min(len(s_sp), k_r) if balance else (len(s_sp) if max_per_species is None
                                                    else min(len(s_sp), max_per_species))
        if balance:
            k_r = min(k_r, k_s)
        out_r.append(r_sp[rng.choice(len(r_sp), k_r, replace=False)] if k_r < len(r_sp) else r_sp)
        out_s.append(s_sp[rng.choice(len(s_sp), k_s, replace=False)] if k_s < len(s_sp) else s_sp)
    return (np.concatenate(out_r) if out_r else rear[:0]), (np.concatenate(out_s) if out_s else stable[:0])


def gather_features(examples, feature_frames):
    """Rows of per-frame feature arrays for (frame, particle) examples: `feature_frames` is a
    sequence/array indexable as feature_frames[f] -> (N, M), or a callable f -> (N, M) (e.g.
    computing structure functions of frame f only when needed)."""
    ex = np.asarray(examples, np.int64).reshape(-1, 2)
    rows = []
    for f in np.unique(ex[:, 0]):
        Xf = feature_frames(int(f)) if callable(feature_frames) else np.asarray(feature_frames[int(f)])
        rows.append((np.flatnonzero(ex[:, 0] == f), Xf[ex[ex[:, 0] == f, 1]]))
    if not rows:
        return np.zeros((0, 0))
    out = np.empty((len(ex), rows[0][1].shape[1]))
    for idx, X in rows:
        out[idx] = X
    return out


# ------------------------------------------------------------------------------------ the model
class SoftnessModel:
    """A fitted softness hyperplane. `predict(X)` -> S (n,), positive on the rearranging side;
    `accuracy` is the held-out accuracy; `info` the provenance stored with `save`."""

    def __init__(self, pipeline, info: dict | None = None, grid: dict | None = None, columns=None,
                 n_columns: int | None = None):
        self.pipeline = pipeline
        self.info = dict(info or {})
        self.grid = grid
        # the feature columns the SVM uses (train drops constant ones) out of n_columns given
        self.columns = None if columns is None else np.asarray(columns, np.int64)
        self.n_columns = n_columns

    @property
    def accuracy(self) -> float:
        return float(self.info.get("accuracy", np.nan))

    @property
    def C(self) -> float:
        return float(self.pipeline.named_steps["svm"].C)

    @property
    def weights(self) -> np.ndarray:
        """Hyperplane normal w in standardised feature space, over the columns used (`columns`)."""
        return self.pipeline.named_steps["svm"].coef_.ravel().copy()

    def _select(self, X):
        if self.columns is None:
            return X
        if X.shape[1] != self.n_columns:
            raise ValueError(f"the model was trained on {self.n_columns} feature columns, got {X.shape[1]}")
        return X[:, self.columns]

    @property
    def intercept(self) -> float:
        return float(self.pipeline.named_steps["svm"].intercept_[0])

    def predict(self, X, geometric: bool = False) -> np.ndarray:
        X = np.asarray(X, float)
        if X.ndim == 1:
            X = X[None]
        s = self.pipeline.decision_function(self._select(X))
        return s / np.linalg.norm(self.weights) if geometric else s

    def classify(self, X) -> np.ndarray:
        """True where predicted rearranging (S > 0)."""
        return self.predict(X) > 0

    def apply(self, system, positions=None, structure_functions=None) -> np.ndarray:
        """Softness of every particle of a new frame, with the grid the model was trained on."""
        from pyglass.analysis.softness.structure_functions import StructureFunctions
        if structure_functions is None and self.grid is None:
            raise ValueError("this model was trained without a grid: pass structure_functions=")
        sf = structure_functions or StructureFunctions.from_grid(self.grid)
        trained = (self.grid or {}).get("type_names")
        if trained is not None and list(system.type_names) != list(trained):
            raise ValueError(f"the model was trained on species {trained}, the system has "
                             f"{list(system.type_names)}")
        return self.predict(sf.compute(system, positions))

    def save(self, path) -> str:
        """Write `path.json` (model arrays, grid, provenance; data only). Returns the path."""
        base = os.fspath(path)
        if base.endswith(".json"):
            base = base[:-5]
        scaler, svm = self.pipeline.named_steps["scale"], self.pipeline.named_steps["svm"]
        model = {"format": "pyglass-linear-softness", "version": 1, "scaler_mean": scaler.mean_.tolist(),
                 "scaler_scale": scaler.scale_.tolist(), "weights": svm.coef_.ravel().tolist(),
                 "intercept": float(svm.intercept_[0]), "C": float(svm.C), "classes": svm.classes_.tolist(),
                 "columns": None if self.columns is None else self.columns.tolist(), "n_columns": self.n_columns}
        with open(base + ".json", "w") as fh:
            json.dump({"model": model, "grid": self.grid, "info": self.info}, fh, indent=1, default=_json_default)
        return base + ".json"

    @classmethod
    def load(cls, path) -> "SoftnessModel":
        """Read a model written by `save` (numbers only; validated before use)."""
        from sklearn.pipeline import Pipeline
        from sklearn.preprocessing import StandardScaler
        from sklearn.svm import LinearSVC
        from pyglass.io.safe_read import MAX_NESTING, nested_depth, read_text_file
        base = os.fspath(path)
        if not base.endswith(".json"):
            base += ".json"
        text = read_text_file(base, ValueError, what="model file")
        if nested_depth(text) > MAX_NESTING:
            raise ValueError(f"{base}: nested deeper than {MAX_NESTING} levels; not a pyglass softness model")
        try:
            meta = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"{base}: not JSON ({exc})") from None
        m = meta.get("model") if isinstance(meta, dict) else None
        if not isinstance(m, dict) or m.get("format") != "pyglass-linear-softness":
            raise ValueError(f"{base}: not a pyglass softness model (no model.format = 'pyglass-linear-softness')")
        try:
            mean = np.asarray(m["scaler_mean"], float)
            scale = np.asarray(m["scaler_scale"], float)
            w = np.asarray(m["weights"], float)
            b, C = float(m["intercept"]), float(m["C"])
            classes = np.asarray(m["classes"], np.int64)
        except (KeyError, TypeError, ValueError, OverflowError) as exc:
            raise ValueError(f"{base}: damaged model ({exc})") from None
        if not (mean.ndim == scale.ndim == w.ndim == 1 and len(mean) == len(scale) == len(w) > 0
                and classes.shape == (2,) and np.all(np.isfinite(np.r_[mean, scale, w, b])) and np.all(scale > 0)):
            raise ValueError(f"{base}: model arrays have inconsistent shapes or non-finite values")
        scaler = StandardScaler()
        scaler.mean_, scaler.scale_, scaler.var_ = mean, scale, scale ** 2
        scaler.n_features_in_, scaler.n_samples_seen_ = len(mean), 0
        svm = LinearSVC(C=C)
        svm.coef_, svm.intercept_, svm.classes_ = w[None, :], np.array([b]), classes
        svm.n_features_in_ = len(w)
        pipe = Pipeline([("scale", scaler), ("svm", svm)])
        columns, n_columns = m.get("columns"), m.get("n_columns")
        if columns is not None:
            try:
                columns, n_columns = np.asarray(columns, np.int64), int(n_columns)
            except (TypeError, ValueError, OverflowError):
                raise ValueError(f"{base}: damaged model (columns / n_columns)") from None
            if not (columns.ndim == 1 and len(columns) == len(w) and np.all(np.diff(columns) > 0)
                    and columns.min() >= 0 and columns.max() < n_columns):
                raise ValueError(f"{base}: model columns are not {len(w)} increasing indices below n_columns")
        grid = meta.get("grid")
        if grid is not None:
            from pyglass.analysis.softness.structure_functions import StructureFunctions, check_grid
            try:
                check_grid(grid)
                sf = StructureFunctions.from_grid(grid)
            except (ValueError, TypeError) as exc:
                raise ValueError(f"{base}: {exc}") from None
            names = grid.get("type_names")
            if names is not None:
                expected = sf.n_columns_for(len(names))
                have = n_columns if columns is not None else len(w)
                if have != expected:
                    raise ValueError(f"{base}: the grid gives {expected} feature columns for species {names}, the "
                                     f"model has {have}")
        info = meta.get("info")
        if info is not None and not isinstance(info, dict):
            raise ValueError(f"{base}: info must be a table")
        acc = (info or {}).get("accuracy")
        if acc is not None and (isinstance(acc, bool) or not isinstance(acc, (int, float))):
            raise ValueError(f"{base}: info.accuracy must be a number, got {acc!r}"[:200])
        return cls(pipe, info, grid, columns, n_columns)

    def __repr__(self):
        return f"SoftnessModel(C={self.C:g}, held-out accuracy={self.accuracy:.3f})"


def _json_default(o):
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    raise TypeError(type(o))


def train(X_rearranging, X_stable, Cs=DEFAULT_CS, C: float | None = None, test_fraction: float = 0.2,
          cv: int = 5, seed: int = 0, max_iter: int = 20000, grid=None, provenance: dict | None = None,
          class_weight=None, min_std: float = 1e-3) -> SoftnessModel:
    """Fit StandardScaler + LinearSVC on rearranging (label 1) vs stable (label 0) examples.

    Columns whose standard deviation over the training part is <= `min_std` are left out (kept in
    `model.columns`): a radial function at a mu where no neighbour ever sits holds values like
    1e-200, and standardising such a column would turn any new frame's 1e-5 into a huge z.
    C: fixed, or chosen from `Cs` by stratified `cv`-fold cross-validation (accuracy) on the
    training part. `test_fraction` of the examples (stratified, seeded) is held out and only used
    for `model.accuracy`. `grid`: a StructureFunctions (or its grid() dict) stored with the model."""
    import sklearn
    from sklearn.model_selection import GridSearchCV, StratifiedKFold, train_test_split
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import LinearSVC

    Xr = np.asarray(X_rearranging, float)
    Xs = np.asarray(X_stable, float)
    if Xr.ndim != 2 or Xs.ndim != 2 or Xr.shape[1] != Xs.shape[1]:
        raise ValueError(f"need two (n, M) arrays with the same M, got {Xr.shape} and {Xs.shape}")
    if min(len(Xr), len(Xs)) < 2:
        raise ValueError("need at least two examples of each class")
    X = np.vstack([Xr, Xs])
    y = np.concatenate([np.ones(len(Xr), int), np.zeros(len(Xs), int)])
    if not np.all(np.isfinite(X)):
        raise ValueError("features contain NaN or inf")
    if test_fraction > 0:
        n_test = max(2, int(round(test_fraction * len(y))))   # at least one example per class
        Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=n_test, stratify=y, random_state=seed)
    else:
        Xtr, ytr, Xte, yte = X, y, X[:0], y[:0]
    columns = np.flatnonzero(Xtr.std(axis=0) > min_std)
    if columns.size == 0:
        raise ValueError(f"every feature column is constant (std <= {min_std}) over the training examples")
    n_columns = X.shape[1]
    Xtr, Xte = Xtr[:, columns], Xte[:, columns]
    pipe = Pipeline([("scale", StandardScaler()),
                     ("svm", LinearSVC(C=1.0 if C is None else float(C), dual=False, max_iter=max_iter,
                                       class_weight=class_weight))])
    cv_scores = None
    if C is None:
        n_splits = int(min(cv, np.bincount(ytr).min()))
        if n_splits >= 2 and len(Cs) > 1:
            search = GridSearchCV(pipe, {"svm__C": list(Cs)}, scoring="accuracy",
                                  cv=StratifiedKFold(n_splits, shuffle=True, random_state=seed))
            search.fit(Xtr, ytr)
            pipe = search.best_estimator_
            cv_scores = {float(c): float(s) for c, s in zip(Cs, search.cv_results_["mean_test_score"])}
        else:
            pipe.set_params(svm__C=float(Cs[0])).fit(Xtr, ytr)
    else:
        pipe.fit(Xtr, ytr)
    acc = float(np.mean(pipe.predict(Xte) == yte)) if len(yte) else float("nan")
    if grid is not None and hasattr(grid, "grid"):
        grid = grid.grid()
    info = {"accuracy": acc, "train_accuracy": float(np.mean(pipe.predict(Xtr) == ytr)),
            "C": float(pipe.named_steps["svm"].C), "cv_accuracy_by_C": cv_scores,
            "n_rearranging": int(len(Xr)), "n_stable": int(len(Xs)), "n_train": int(len(ytr)),
            "n_test": int(len(yte)), "test_fraction": test_fraction, "cv_folds": cv, "seed": seed,
            "n_features": int(X.shape[1]), "n_features_used": int(columns.size), "min_std": min_std,
            "sklearn_version": sklearn.__version__,
            "classifier": "StandardScaler + LinearSVC (squared hinge, L2)",
            "softness": "decision_function: w.z + b, > 0 on the rearranging side",
            "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")}
    info.update(provenance or {})
    return SoftnessModel(pipe, info, grid, columns, n_columns)


def load(path) -> SoftnessModel:
    return SoftnessModel.load(path)
