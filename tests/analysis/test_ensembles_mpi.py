"""Ensembles over MPI rank groups (run with: mpirun -n 2 python -m pytest --with-mpi -m mpi ...)."""
import numpy as np
import pytest

from pyglass import builders, ensembles, integrators, potentials
from pyglass.analysis.observables import Observable

CUT = np.array([[1.4, 1.55], [1.55, 1.75]])


def _liquid():
    s = builders.random_packing(48, 0.75, 2, (0.5, 0.5), seed=11, min_distance=0.85)
    pot = potentials.SoftDisks2D(cutoff=2.5)
    s.thermalize(0.8, 0)
    integrators.NoseHoover(0.005, 0.8, 0.5).run(s, pot, 300)
    return s, pot


@pytest.mark.mpi(min_size=2)
def test_isoconfigurational_identical_on_one_or_two_rank_groups():
    from mpi4py import MPI
    comm = MPI.COMM_WORLD
    s, pot = _liquid()
    kw = dict(n_runs=5, T=0.8, dt=0.005, seed=7, cutoffs=CUT)
    serial = ensembles.IsoconfigurationalEnsemble(s, pot, **kw).run([0.5, 1.0])
    two = ensembles.IsoconfigurationalEnsemble(s, pot, comm=comm, **kw)
    assert two.n_groups == comm.Get_size() and two.members_of(two.group) == \
        list(range(two.group, 5, two.n_groups))
    res2 = two.run([0.5, 1.0])
    res1 = ensembles.IsoconfigurationalEnsemble(s, pot, comm=comm, n_groups=1, **kw).run([0.5, 1.0])
    # replica batches inside one-rank groups (group 0: runs 0, 2 batched, then 4); a group of two ranks
    # runs one at a time and says so
    batched = ensembles.IsoconfigurationalEnsemble(s, pot, comm=comm, batch=2, **kw)
    assert batched.batch == 2 and batched.batch_refused is None
    res2b = batched.run([0.5, 1.0])
    with pytest.warns(UserWarning, match="one at a time: a replica batch runs on one rank"):
        res1b = ensembles.IsoconfigurationalEnsemble(s, pot, comm=comm, n_groups=1, batch=2, **kw).run([0.5, 1.0])
    for res in (res1, res2, res2b, res1b):
        assert np.array_equal(res.seeds, serial.seeds)
        assert np.array_equal(res.displacements, serial.displacements)
        assert np.array_equal(res.propensity, serial.propensity)
        assert np.array_equal(res.ir_probability, serial.ir_probability)
        assert np.array_equal(res.first_loss_times, serial.first_loss_times)


class _Failing(ensembles.Ensemble):
    def run_member(self, k, seed, group_comm):
        if k == 1:
            raise ValueError("member one is broken")
        return {"k": k}


@pytest.mark.mpi(min_size=2)
def test_a_failing_member_raises_on_every_rank():
    from mpi4py import MPI
    with pytest.raises(RuntimeError, match="member one is broken"):
        _Failing(4, comm=MPI.COMM_WORLD).run_all()


class _Count(Observable):
    needs = ()

    def update(self, frame):
        pass


@pytest.mark.mpi(min_size=2)
def test_observable_result_reduces_over_ranks():
    from mpi4py import MPI
    comm = MPI.COMM_WORLD
    o = _Count()
    o.add("x", np.array([1.0, comm.Get_rank()]))
    out = o.result(comm)
    n = comm.Get_size()
    assert np.allclose(out["x"], [n, n * (n - 1) / 2])
