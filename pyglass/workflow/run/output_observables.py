"""The deck observables that write the run's output file: `thermo` (/observables/thermo rows) and
`trajectory` (H5MD frames), built by the MD stage for every MD / production stage."""
from __future__ import annotations

from pyglass.analysis.observables.base import StreamingObservable
from pyglass.io.h5md import THERMO_COLUMNS, H5MDWriter
from pyglass.registry import OBSERVABLES, Key, ObservableType


class ThermoObservable(StreamingObservable):
    """Built-in 'thermo' observable: appends T, energies per particle, pressure and the conserved
    energy (with the thermostat's share) to /observables/thermo at each due step."""

    profile_phase = "io"   # its samples are file writes (the run profile, workflow.run.profile)

    label = "thermo"

    def __init__(self, schedule, writer: H5MDWriter, integrator, stage_index: int):
        super().__init__(schedule)
        self.writer, self.integrator, self.stage_index = writer, integrator, stage_index

    def sample(self, system, step, result=None):
        if self.writer.last_thermo_step == step:   # the previous stage ended on this step
            return
        self.writer.last_thermo_step = step
        v = self.integrator.thermo_values(system, result)
        values = {col: float(v[key]) for col, key in THERMO_COLUMNS.items()}
        values["conserved_energy"] = values["total_energy"] + self.integrator.extra_energy(system) / self.writer.n_global
        self.writer.append_thermo(step, system.time, values, self.stage_index)



class TrajectoryObservable(StreamingObservable):
    """Built-in 'trajectory' observable: one H5MD frame per due step."""

    profile_phase = "io"   # its samples are file writes (the run profile, workflow.run.profile)

    label = "trajectory"

    def __init__(self, schedule, writer: H5MDWriter, velocities=True):
        super().__init__(schedule)
        self.writer, self.velocities = writer, velocities

    def sample(self, system, step, result=None):
        if self.writer.last_frame_step == step:
            return
        self.writer.last_frame_step = step
        self.writer.write_frame(system, self.velocities)


def _make_thermo(params, ctx):
    return ThermoObservable(ctx.schedule, ctx.writer, ctx.integrator, ctx.stage_index)


def _make_trajectory(params, ctx):
    return TrajectoryObservable(ctx.schedule, ctx.writer, velocities=params["velocities"])


OBSERVABLES.register("thermo", ObservableType(
    _make_thermo, {}, "temperature, potential/kinetic/total energy per particle, pressure and the conserved "
    "energy, written to /observables/thermo at each sample"))
OBSERVABLES.register("trajectory", ObservableType(
    _make_trajectory, {"velocities": Key((bool,), True, "also write velocities")},
    "frames of positions, images, velocities and species in /particles/all (H5MD)"))
