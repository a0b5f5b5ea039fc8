"""Names of the H5MD layout pyglass writes (see `pyglass.io.h5md`)."""
# root group of analysis results (stage and observable outputs), see H5MDWriter.results_path
RESULTS_ROOT = "pyglass"

THERMO_COLUMNS = {"temperature": "Temp", "potential_energy": "PotEng", "kinetic_energy": "KinEng",
                  "total_energy": "TotEng", "pressure": "Press"}
