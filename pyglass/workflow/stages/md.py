"""`md` (aliases `equilibrate`, `production`): molecular dynamics with an integrator and observables.

The integrator runs in segments that end at checkpoint steps, at `--stop-at` and at the stage end;
a SIGTERM is honoured at the next checkpoint step when `output.checkpoint` > 0 (then a restart is
bit for bit the uninterrupted run), at once otherwise (then it agrees to round-off);
at every segment end the system is put in the state a restart from there starts from
(`Session.canonical`), so an uninterrupted run and a restarted one sum forces in the same order.
Observables write their results at checkpoints and at the stage end. `production` stages also get
the deck-wide trajectory (`output.trajectory`); every MD stage gets the thermo rows.
"""
from __future__ import annotations

from dataclasses import dataclass

from pyglass.io.checkpoint import load_integrator_state
from pyglass.workflow.deck.validate import make_schedule, validate_observable
from pyglass.registry import INTEGRATORS, OBSERVABLES, REQUIRED, Key
from pyglass.workflow.stages import cost
from pyglass.workflow.stages.base import Stage, register, validate_table


@dataclass
class ObservableContext:
    """What an observable factory sees (pyglass.registry.ObservableType)."""
    system: object
    potential: object
    integrator: object
    writer: object
    schedule: object
    comm: object
    stage: dict
    stage_index: int


@register
class MD(Stage):
    kind = "md"
    phase = "md"
    aliases = ("equilibrate", "production")
    doc = ("molecular dynamics: `steps` steps of the integrator, with observables; `production` also writes "
           "the deck-wide trajectory (`output.trajectory`)")
    leaves = "moved"
    keys = {
        "steps": Key((int,), REQUIRED, "number of MD steps", lo=0),
        "thermo": Key((int,), 1000, "print a thermo line every this many steps (0: none)", lo=0),
        "temperature": Key((int, float), None, "redraw Maxwell-Boltzmann velocities at this temperature when "
                           "the stage starts", lo=0),
        "integrator": Key((dict,), REQUIRED, "table: type = nve | nosehoover | langevin | npt, plus the "
                          "integrator constructor's arguments (dt, T, tau, ...)"),
        "observable": Key((list,), [], "array of tables [[stage.observable]]: type (registered name), "
                          "schedule and the observable's own keys", items=dict),
    }

    @classmethod
    def check(cls, val, path, params):
        validate_table(val, path, params, "integrator", INTEGRATORS, "integrator")
        if isinstance(params.get("observable"), list):
            obs = [validate_observable(val, path + ("observable", j), o) for j, o in enumerate(params["observable"])]
            labels = [o.get("label") for o in obs]
            for j, lab in enumerate(labels):
                if lab is not None and labels.index(lab) != j:
                    val.error(path + ("observable", j, "label"),
                              f"duplicate observable label {lab!r} in this stage; set distinct 'label's")
            params["observable"] = obs

    @classmethod
    def estimate(cls, params, n, dim):
        return f"{params['steps']} steps of {params['integrator'].get('type')}"

    @classmethod
    def cost(cls, params, n, dim):
        return cost.md(params["steps"], n)

    # -- running ---------------------------------------------------------------------------
    def observables(self, ctx, integrator, stage_start):
        out = ctx.deck.data["output"]
        stage = self.params
        specs = list(stage["observable"])
        types = {o["type"] for o in specs}
        if out["thermo"] and "thermo" not in types:
            specs.append({"type": "thermo", "label": "thermo", "schedule": "linear", "every": out["thermo"],
                          "start": 0})
        if out["trajectory"] and stage["kind"] == "production" and "trajectory" not in types:
            specs.append({"type": "trajectory", "label": "trajectory", "schedule": "linear",
                          "every": out["trajectory"], "start": 0, "velocities": True})
        result = []
        for o in specs:
            reg = OBSERVABLES[o["type"]]
            params = {key: o.get(key, spec.default) for key, spec in reg.params.items()}
            octx = ObservableContext(ctx.system, ctx.potential, integrator, ctx.writer,
                                     make_schedule(o, stage_start), ctx.comm, stage, self.index)
            obs = reg.factory(params, octx)
            if not getattr(obs, "_stateless", False):
                try:
                    obs.name = o["label"]   # its output group
                except AttributeError:
                    pass
            result.append(obs)
        return result

    @staticmethod
    def restore_observables(observables, resume):
        """Give the stage's stateful observables their checkpointed state (typed data), in order."""
        from pyglass.io.checkpoint import RestartError
        stateful = [o for o in observables if not getattr(o, "_stateless", False)]
        saved = resume.observable_states or []
        if len(saved) != len(stateful):
            raise RestartError(f"{resume.path}: /checkpoint/observables holds {len(saved)} observable state(s), "
                               f"this stage has {len(stateful)} stateful observable(s)")
        for obs, (label, typ, state) in zip(stateful, saved):
            if label != getattr(obs, "label", type(obs).__name__) or typ != type(obs).__name__:
                raise RestartError(f"{resume.path}: /checkpoint/observables: state of {typ} {label!r} does not match "
                                   f"this stage's {type(obs).__name__} {getattr(obs, 'label', '')!r}")
            obs.set_state(state)

    def run(self, ctx):
        stage = self.params
        system, pot = ctx.system, ctx.potential
        integ = ctx.deck.build_integrator(stage)
        steps, thermo = stage["steps"], stage["thermo"]
        resume = ctx.resume
        if resume is not None and resume.step_in_stage == 0 and not resume.integrator_state:
            resume = None   # the checkpoint written as the previous stage ended: this stage starts afresh
        if resume is not None:
            done = resume.step_in_stage
            load_integrator_state(integ, resume.integrator_state, resume.path)   # checked against a fresh one
        else:
            done = 0
            if stage.get("temperature") is not None:
                system.thermalize(stage["temperature"], ctx.seed_for(0))
        stage_start = system.step - done
        observables = self.observables(ctx, integ, stage_start)
        if resume is not None:
            self.restore_observables(observables, resume)
        for obs in observables:   # each sample is timed (a coarse call): frames and thermo rows are I/O
            obs.sample = ctx.profile.timed(obs.sample, getattr(obs, "profile_phase", "analysis"))
        ctx.print(f"stage {self.index + 1} ({stage['name']}): {stage['kind']}, {integ.name}, {steps} steps"
                  + (f", resuming at step {done}" if done else ""))
        result = pot.compute(system)
        if resume is None:
            for obs in observables:   # the configuration the stage starts from
                if obs.due(system.step):
                    obs.sample(system, system.step, result)
        if thermo:
            from pyglass.engine.integrators.base import thermo_header
            ctx.print(thermo_header())
            ctx.thermo_line(integ, system, result)
        bar = ctx.progress_bar(steps, done)
        ckpt_every = ctx.deck.data["output"]["checkpoint"]
        check = ctx.deck.data["run"]["signal_check"]

        def callback(sys_, res):
            if thermo and sys_.step % thermo == 0:
                ctx.thermo_line(integ, sys_, res)
            if bar is not None:
                bar.update(1)
            # with periodic checkpoints a SIGTERM is honoured at the next checkpoint step, where every run
            # rebuilds its neighbour lists, so the restarted run is bit for bit the uninterrupted one
            return not ckpt_every and (sys_.step - stage_start) % check == 0 and ctx.stop_requested()

        wall = 0.0
        try:
            while done < steps:
                seg = steps - done
                if ckpt_every:
                    seg = min(seg, ckpt_every - system.step % ckpt_every)
                if ctx.stop_at_step is not None:
                    seg = min(seg, ctx.stop_at_step - system.step)
                if seg > 0:
                    step0 = system.step
                    stats = integ.run(system, pot, seg, observables, thermo=0, progress=False, callback=callback)
                    wall += stats.wall
                    done += system.step - step0
                stop = ctx.stop_at_step is not None and system.step >= ctx.stop_at_step
                signalled = ctx.stop_requested()
                if stop or signalled or (ckpt_every and system.step % ckpt_every == 0) or done >= steps:
                    with ctx.phase("io"):
                        ctx.writer.write_observables(stage["name"], observables)
                    if done >= steps:   # wall time of this process's stepping (scaling studies)
                        timed = steps - (resume.step_in_stage if resume else 0)
                        ctx.writer.set_attrs(ctx.group, {
                            "wall_seconds": ctx.max_over_ranks(wall), "steps_timed": int(timed),
                            "n_ranks": ctx.n_ranks, "n_particles": ctx.writer.n_global})
                    if done >= steps:
                        ctx.checkpoint(0, integ, (), finished=True)
                    else:
                        ctx.checkpoint(done, integ, observables)
                system, pot = ctx.canonical()   # same state as a run restarted here
                if stop or signalled:
                    why = ctx.stop_signal if signalled else f"stop at step {ctx.stop_at_step}"
                    raise ctx.interrupted(f"{why}: checkpoint at step {system.step} (stage {self.index + 1}, "
                                          f"{done}/{steps} steps)")
        finally:
            if bar is not None:
                bar.close()
