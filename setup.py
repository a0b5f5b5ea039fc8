"""Build pyglass: the Python package plus the Cython kernels in extensions/ as pyglass._ext.*"""
import glob
import os
import re

import numpy
from Cython.Build import cythonize
from setuptools import Extension, find_packages, setup

COMPILE_ARGS = ["-O3", "-ffast-math", "-fno-finite-math-only", "-march=native", "-fopenmp-simd"]
if os.environ.get("PYGLASS_PORTABLE"):  # wheels for other machines: no -march=native
    COMPILE_ARGS.remove("-march=native")

# The pair kernel's blocks are short (a particle's neighbours of one type, padded to 4): 256-bit
# vectors fit them without remainder loops. A/B at N = 8000, kernel only: IPL 0.70 -> 0.60 ms,
# 2D soft disks 0.73 -> 0.68 ms, KA unchanged (only where -march=native picks AVX-512)
EXTRA_ARGS = {"pair": ["-mprefer-vector-width=256"]}

extensions = [
    Extension(
        "pyglass._ext." + os.path.splitext(os.path.basename(src))[0],
        [src],
        include_dirs=[numpy.get_include(), "extensions"],
        extra_compile_args=COMPILE_ARGS + EXTRA_ARGS.get(os.path.splitext(os.path.basename(src))[0], []),
        # NPY_TARGET_VERSION: built against numpy >= 2 (an isolated `pip install .`), the kernels
        # still load under numpy 1.23+, Debian's 1.24 included; numpy 1.x headers ignore it
        define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION"),
                       ("NPY_TARGET_VERSION", "NPY_1_23_API_VERSION")],
    )
    for src in sorted(glob.glob("extensions/*.pyx"))
]

setup(
    name="pyglass",
    version=re.search(r'__version__ = "(.+)"', open("pyglass/_version.py").read()).group(1),
    description="Simulation and analysis of glass-forming liquids: MD, energy landscape, structure-dynamics",
    packages=find_packages(include=["pyglass", "pyglass.*"]),
    # the papers' decks and criteria files travel with the package (`pyglass reproduce` reads them there)
    package_data={"pyglass.papers": ["*/*.toml"]},
    ext_modules=cythonize(
        extensions,
        language_level=3,
        compiler_directives={"boundscheck": False, "wraparound": False, "cdivision": True,
                             "initializedcheck": False, "nonecheck": False},
    ),
    python_requires=">=3.9",
    install_requires=["numpy", "scipy", "h5py", "mpi4py"],
    entry_points={"console_scripts": ["pyglass = pyglass.workflow.cli:main"]},
    zip_safe=False,
)
