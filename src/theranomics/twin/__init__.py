"""theranomics.twin — the theranostic digital twin.

A whole-body PBPK model of a radioligand (:mod:`.model`, parameters in :mod:`.params`), solved
with a batched stiff solver (:mod:`.solver`); dosimetry coupling (:mod:`.dosimetry`);
personalisation by fitting measured TACs with uncertainty (:mod:`.personalise`); planning of
activities and ligand amount within organ limits (:mod:`.planning`); the simulator's kinetics
protocol (:mod:`.kinetics`); the patient workflow behind ``theranomics plan`` (:mod:`.workflow`, HTML
report in :mod:`theranomics.report.twin_report`).  Solves use a compiled (numba) kernel when numba
is installed (:mod:`._compiled`), else the batched numpy solver.
"""
from .dosimetry import ElectronSelfDose, SphereSelfDose, dose_table
from .model import PBPKModel, Schedule, TwinSolution
from .params import (Ligand, PatientSpec, TumourSpec, TwinParameterError, default_patient, load_ligand,
                     parameter_table)
from .planning import (PlanningConstraints, PlanResult, ligand_amount_curve, plan_schedules, tumour_sink_curve,
                       unit_doses, verify_against_full)

__all__ = ["PBPKModel", "Schedule", "TwinSolution", "Ligand", "PatientSpec", "TumourSpec", "TwinParameterError",
           "default_patient", "load_ligand", "parameter_table", "ElectronSelfDose", "SphereSelfDose", "dose_table",
           "PlanningConstraints", "PlanResult", "plan_schedules", "unit_doses", "verify_against_full",
           "tumour_sink_curve", "ligand_amount_curve"]
