"""Studies: a deck with `[study]` runs its stage pipeline once per unit (state point j, sample s).

Units are dealt round robin to the replica groups (with samples drawn from one trajectory per state
point, whole state points are, when there are enough of them); unit (j, s) has the seed
`seeds.unit_seed(run.seed, j, s)` whatever the rank layout, writes `paths.unit_path(...)` and its own
checkpoint. When every unit is done, world rank 0 writes the index file (`output.path`): provenance,
the unit table, external links to every unit's results, and the summary stages (`summaries`).
On `--restart` finished units are kept, interrupted ones continue from their checkpoints, the rest
run; a draw trajectory continues from its checkpoint, and a finished study restarted with a larger
`study.samples` (the deck otherwise unchanged) is extended with the new samples.
"""
from __future__ import annotations

import os

import h5py
import numpy as np

from pyglass.engine.comm import is_parallel, rank as comm_rank, size as comm_size
from pyglass.io.h5md import RESULTS_ROOT, path_status
from pyglass.io.safe_read import open_h5, read_array
from pyglass.registry import STAGES
from pyglass.workflow.run import paths, seeds as seeding
from pyglass.workflow.run.pipeline import NullWriter, build_system, decompose, run_unit
from pyglass.workflow.stages.base import RunInterrupted


def deal_units(units, n_groups: int, group: int, by_state: bool = False) -> list:
    """The units [(unit, state index, ...)] replica group `group` of `n_groups` runs: round robin, or,
    with by_state (samples drawn from one trajectory per state point) and at least n_groups state points,
    whole state points round robin, so that each draw trajectory runs once and not on every group that
    holds one of its samples."""
    states = sorted({u[1] for u in units})
    if by_state and len(states) >= n_groups:
        return [u for u in units if states.index(u[1]) % n_groups == group]
    return [u for k, u in enumerate(units) if k % n_groups == group]


def study_units(deck):
    """[(unit index, state index, state label, state deck, sample)] of the whole study."""
    out, n_samples = [], int(deck.study["samples"])
    for j, (label, data) in enumerate(deck.states):
        for s in range(n_samples):
            out.append((len(out), j, label, deck.with_data(data), s))
    return out


def unit_status(path) -> str | None:
    """'complete', 'interrupted', 'running' or None (no readable file)."""
    return path_status(path) or None


class Study:
    """Runs the units of a study deck on one replica group (see the module docstring)."""

    def __init__(self, runner):
        self.runner = runner
        self.session = runner.session
        self.deck, self.output = runner.deck, runner.output
        self.restart = runner.restart_path

    def run(self):
        runner, study = self.runner, self.deck.study
        units = study_units(self.deck)
        todo = units
        if self.restart and study["source"] in ("seeds", "frames"):
            # a restart deals out only the units not yet complete, so the replica groups stay busy
            # (every rank reads the same files: the same list everywhere)
            todo = [u for u in units if unit_status(paths.unit_path(self.output, u[2], u[4])) != "complete"]
        by_state = study["source"] == "trajectory"
        mine = deal_units(todo, runner.n_rep, runner.replica, by_state=by_state)
        per_sample = [k for k, s in enumerate(self.deck.data["stage"]) if STAGES[s["kind"]].per_sample]
        n_pipeline = (max(per_sample) + 1) if per_sample else 0
        self.session.print(f"study: {len(self.deck.states)} state point(s) x {study['samples']} sample(s) = "
                           f"{len(units)} units over {runner.n_rep} replica group(s); source = {study['source']}")
        # the profile goes on from the interrupted invocations' (the index is rewritten at the end)
        earlier = stored_profile(self.output) if self.restart and comm_rank(runner.world) == 0 else None
        interrupted = None
        try:
            if study["source"] in ("seeds", "frames"):
                for (u, j, label, deck, s) in mine:
                    self.unit(u, j, label, deck, s, None, 0, n_pipeline)
            else:
                # the draw file of a state point is written by the first replica group holding its units
                # (state points dealt whole: the only one; split over groups: each repeats the draw)
                writer_of = {}
                for g in reversed(range(runner.n_rep)):
                    writer_of.update({u[1]: g for u in deal_units(todo, runner.n_rep, g, by_state=by_state)})
                self.trajectory(mine, n_pipeline, writer_of)
        except RunInterrupted as exc:
            interrupted = str(exc)
        world = runner.world
        if is_parallel(world):
            msgs = [m for m in world.allgather(interrupted) if m]
            interrupted = msgs[0] if msgs else None
        profile = self.profile(earlier)
        if interrupted:
            if comm_rank(world) == 0:
                write_index(self.deck, self.output, units, "interrupted", comm_size(world), self.session.print,
                            profile)
            raise RunInterrupted(f"{interrupted}; restart the study with --restart {self.output}",
                                 paths.checkpoint_path(self.output))
        if comm_rank(world) == 0:
            write_index(self.deck, self.output, units, "complete", comm_size(world), self.session.print, profile)
            self.session.print(f"pyglass: study done; index {self.output}")
            self.session.print_profile(profile)
        if is_parallel(world):
            world.Barrier()

    def profile(self, earlier) -> dict:
        """The whole study's profile (collective over the world): every replica group's first rank's
        phases and wall time summed (process-seconds), with the earlier invocations' record."""
        from pyglass.workflow.run.profile import combine
        mine = self.session.profile.as_dict() if self.session.rank == 0 else None
        world = self.runner.world
        records = [r for r in world.allgather(mine) if r] if is_parallel(world) else [mine]
        out = combine(records, concurrent=True)
        out["replica_groups"] = len(records)
        return combine([out, earlier]) if earlier else out

    def unit(self, u, j, label, deck, s, system, first_stage, n_pipeline):
        """Run one unit's pipeline (stages first_stage..n_pipeline-1); resume or skip on --restart."""
        session = self.session
        path = paths.unit_path(self.output, label, s)
        ck_path = paths.checkpoint_path(path)
        seed = seeding.unit_seed(self.deck.data["run"]["seed"], j, s)
        session.unit = (label, s)
        tag = f"{label + ' ' if label else ''}sample {s}"
        ck = None
        if self.restart:
            if unit_status(path) == "complete":
                session.print(f"{tag}: complete in {path}, kept")
                return
            if os.path.exists(ck_path):
                ck = self.runner.read_restart(ck_path, deck.data["stage"])
                system = ck.system
                first_stage = ck.stage_index
        if system is None:
            if self.deck.study["source"] == "frames":   # re-analysis: sample s is frame s of the file
                data = dict(deck.data, system=dict(deck.data["system"], frame=s))
                system = build_system(deck.with_data(data), seed)
            else:
                system = build_system(deck, seed)
        session.print(f"== {tag} (seed {seed}) -> {path}")
        unit_seeds = {"run": self.deck.data["run"]["seed"], "unit_seed": seed, "state": label, "sample": s,
                      "replica": self.runner.replica, "n_replicas": self.runner.n_rep}
        run_unit(session, deck, seed, system, path, ck_path, unit_seeds, first=first_stage, ck=ck, stop=n_pipeline)
        session.writer = None

    def trajectory(self, mine, n_pipeline, writer_of):
        """Samples drawn from one trajectory per state point: the stages up to `draw_after` run once,
        then sample s is the configuration after s+1 further blocks of `spacing` steps. Every replica
        with units at a state point repeats the draw (deterministic), keeping its own samples; the
        replica writer_of[state index] writes the draw's file."""
        session, study = self.session, self.deck.study
        names = [s["name"] for s in self.deck.data["stage"]]
        draw = names.index(study["draw_after"])
        by_state: dict = {}
        for unit in mine:
            by_state.setdefault(unit[1], []).append(unit)
        for j, units in by_state.items():
            label, deck = units[0][2], units[0][3]
            todo = {u[4]: u for u in units}
            if self.restart:
                todo = {s: u for s, u in todo.items()
                        if unit_status(paths.unit_path(self.output, label, s)) != "complete"}
                if not todo:
                    continue
            seed = seeding.draw_seed(self.deck.data["run"]["seed"], j)
            draw_file = paths.draw_path(self.output, label)
            draw_ckpt = paths.checkpoint_path(draw_file)
            system = build_system(deck, seed)
            draw_seeds = {"run": self.deck.data["run"]["seed"], "draw_seed": seed, "state": label}
            session.unit = (label, -1)
            writer = None
            if self.runner.replica != writer_of[j]:
                writer = NullWriter(decompose(system.copy(), session.comm), session.comm)
            ck = None
            if self.restart and os.path.exists(draw_ckpt):
                # the draw continues from its checkpoint: mid-way, or from its end when it was complete
                # (e.g. a finished study given more samples)
                ck = self.runner.read_restart(draw_ckpt, deck.data["stage"])
                ck = ck if ck.stage_index <= draw + 1 else None
            tag = label + " " if label else ""
            if ck is not None and ck.stage_index == draw + 1:
                session.print(f"== {tag}draw: complete in {draw_file}, continued from its checkpoint")
            elif ck is not None:
                session.print(f"== {tag}draw: stages {ck.stage_index + 1}-{draw + 1} from its checkpoint -> {draw_file}")
            else:
                session.print(f"== {tag}draw: stages 1-{draw + 1} -> {draw_file}")
            run_unit(session, deck, seed, ck.system if ck else system, draw_file, draw_ckpt, draw_seeds,
                     first=ck.stage_index if ck else 0, ck=ck, stop=draw + 1, writer=writer)
            integ = deck.build_integrator(deck.data["stage"][draw])
            for s in range(max(todo) + 1):
                integ.run(session.system, session.potential, int(deck.study["spacing"]))   # may differ per state
                if s in todo:
                    u = todo[s]
                    keep = (session.system, session.potential)
                    self.unit(u[0], j, label, deck, s, session.whole_system(), draw + 1, n_pipeline)
                    session.system, session.potential = keep


def stored_profile(path) -> dict | None:
    """The profile an earlier invocation of the study left in its index file (None: none)."""
    from pyglass.workflow.run import results
    try:
        return results.open(path).profile
    except (OSError, ValueError):
        return None


def write_index(deck, path, units, status, n_ranks, printer, profile=None):
    """The study's index file (world rank 0): provenance (with the run's `profile`, JSON), unit table,
    links, summaries."""
    import json
    from pyglass.io.h5md import fixed_string, provenance, user_name
    import pyglass
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    run_seed = deck.data["run"]["seed"]
    summaries = [(k, s) for k, s in enumerate(deck.data["stage"]) if not STAGES[s["kind"]].per_sample]
    with h5py.File(path, "w") as f:
        h5 = f.create_group("h5md")
        h5.attrs["version"] = np.array([1, 1], np.int32)
        h5.create_group("author").attrs["name"] = fixed_string(deck.data["output"]["author"] or user_name())
        cr = h5.create_group("creator")
        cr.attrs["name"], cr.attrs["version"] = fixed_string("pyglass"), fixed_string(pyglass.__version__)
        p = h5.create_group("provenance")
        for key, value in provenance(deck.text, {"run": run_seed}, n_ranks).items():
            if key == "deck":
                p.create_dataset("deck", data=value, dtype=h5py.string_dtype())
            else:   # H5MD 1.1: fixed-length strings in /h5md
                p.attrs[key] = fixed_string(value) if isinstance(value, str) else value
        p.attrs["status"] = fixed_string(status)
        if profile is not None:
            p.attrs["profile"] = fixed_string(json.dumps(profile))
        st = f.require_group(f"{RESULTS_ROOT}/study")
        st.attrs["samples"] = int(deck.study["samples"])
        st.attrs["source"] = deck.study["source"]
        st.attrs["states"] = np.array([lab for lab, _ in deck.states], dtype=h5py.string_dtype())
        files = [paths.unit_path(path, lab, s) for (_, _, lab, _, s) in units]
        st.create_dataset("files", data=np.array([paths.relative_to_index(path, x) for x in files],
                                                 dtype=h5py.string_dtype()))
        st.create_dataset("state_index", data=np.array([u[1] for u in units], np.int64))
        st.create_dataset("sample", data=np.array([u[4] for u in units], np.int64))
        st.create_dataset("seed", data=np.array([seeding.unit_seed(run_seed, u[1], u[4]) for u in units], np.int64))
        st.create_dataset("status", data=np.array([unit_status(x) or "missing" for x in files],
                                                  dtype=h5py.string_dtype()))
        links = st.require_group("samples")
        for (u, j, lab, _, s), fpath in zip(units, files):
            g = links.require_group(lab or "all")
            g[f"s{s}"] = h5py.ExternalLink(paths.relative_to_index(path, fpath), f"/{RESULTS_ROOT}")
        if status == "complete":
            for k, stage in summaries:
                write_summary(f, deck, stage, k, units, files, printer)


def write_summary(f, deck, stage, k, units, files, printer):
    """A summary stage's aggregate over samples, per state point, into the open index file."""
    obj = STAGES[stage["kind"]](stage, k)
    conf = float(deck.study["confidence"])
    printer(f"summary ({stage['name']}): {', '.join(stage['fields'])} over samples, {conf:.0%} bootstrap")
    for j, (label, _) in enumerate(deck.states):
        per = []
        for (u, jj, lab, _, s), fpath in zip(units, files):
            if jj != j:
                continue
            vals = {}
            with open_h5(fpath) as uf:
                for name in stage["fields"]:
                    st_name, ds = name.split("/", 1)
                    vals[name] = read_array(uf[f"{RESULTS_ROOT}/{st_name}/{ds}"], fpath)
            per.append(vals)
        agg = obj.aggregate(per, conf, seeding.summary_seed(deck.data["run"]["seed"], k, j))
        g = f.require_group(f"{RESULTS_ROOT}/{stage['name']}/{label or 'all'}")
        g.attrs["confidence"] = conf
        for name, res in agg.items():
            h = g.require_group(name.replace("/", "."))
            h.attrs["field"] = name
            for key, value in res.items():
                h.create_dataset(key, data=np.asarray(value))
            m = np.asarray(res["mean"])
            if m.ndim == 0:
                printer(f"  {label or 'all'} {name}: {float(m):.6g} [{float(res['low']):.6g}, "
                        f"{float(res['high']):.6g}] (n = {res['n']})")
