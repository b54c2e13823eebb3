"""Cohort processing at scale: manifest → validated, resumable per-patient stages on a local process
pool or a Dask cluster → cohort tables and report.

Public API::

    from theranomics.cohort import read_manifest, validate_manifest, run_cohort, simulate_cohort
    result = run_cohort("manifest.csv", "out", stages=["quantify", "radiomics"], workers=2)
    result.ok, result.tables["patients"], result.report

Stages: ``quantify`` → ``radiomics``; ``dosimetry`` (doses quantify's PET lesions too, when
quantify succeeded) and ``plan`` (digital twin; needs quantify and dosimetry) for patients with
therapy SPECT time points.  User guide: ``docs/cohort.md``.  See :mod:`.manifest` (file formats),
:mod:`.stages` (the stage contract), :mod:`.therapy` (dosimetry and planning), :mod:`.runner`
(output folder, resume and cache), :mod:`.backends` (local pool, Dask).
"""
from .manifest import Manifest, ManifestError, PatientEntry, TimepointEntry, read_manifest, write_manifest
from .runner import CohortLockedError, CohortResult, CohortValidationError, gather_tables, run_cohort
from .stages import Stage, StageError, StageInputs, StageNotApplicable, builtin_stages, resolve_stages
from .validate import Problem, ValidationReport, validate_manifest, validate_patient


def __getattr__(name: str):
    # the simulator is heavy and only needed for virtual cohorts
    if name in ("simulate_cohort", "draw_cohort", "SCANNERS", "ScannerProfile"):
        from . import simulate
        return getattr(simulate, name)
    raise AttributeError(f"module 'theranomics.cohort' has no attribute {name!r}")


__all__ = ["Manifest", "ManifestError", "PatientEntry", "TimepointEntry", "read_manifest", "write_manifest",
           "CohortLockedError", "CohortResult", "CohortValidationError", "gather_tables", "run_cohort",
           "Stage", "StageError", "StageInputs", "StageNotApplicable", "builtin_stages", "resolve_stages",
           "Problem", "ValidationReport", "validate_manifest", "validate_patient",
           "simulate_cohort", "draw_cohort", "SCANNERS", "ScannerProfile"]
