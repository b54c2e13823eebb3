"""A patient's study: patient data, administrations, and images per time point.

A patient can have a diagnostic (pre-therapy) PET and several therapy cycles,
each with its own administration and imaging time points::

    Study(patient, cycles=[Cycle(0, Administration(...), [TimePoint("pet", ...)]),
                           Cycle(1, Administration(...), [TimePoint("4h", ...), ...])])

Cycle 0 is the diagnostic scan by convention (see docs/study_layout.md).
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Mapping

from .image import Image, LabelMap

SEXES = ("M", "F", "O")


@dataclass(frozen=True)
class Patient:
    """Patient data used by SUV normalisation and dosimetry."""

    patient_id: str
    weight_kg: float | None = None
    height_cm: float | None = None
    sex: str | None = None

    def __post_init__(self) -> None:
        if not self.patient_id:
            raise ValueError("patient_id must be a non-empty string")
        if self.weight_kg is not None and not (0 < self.weight_kg < 500):
            raise ValueError(f"weight_kg must be in (0, 500) kg, got {self.weight_kg}")
        if self.height_cm is not None and not (0 < self.height_cm < 300):
            raise ValueError(f"height_cm must be in (0, 300) cm, got {self.height_cm}")
        if self.sex is not None and self.sex not in SEXES:
            raise ValueError(f"sex must be one of {SEXES}, got {self.sex!r}")


@dataclass(frozen=True)
class Administration:
    """One injection.  ``activity_mbq`` is the net activity (syringe residual already removed)."""

    radiopharmaceutical: str
    nuclide: str
    activity_mbq: float
    time: dt.datetime
    residual_mbq: float = 0.0

    def __post_init__(self) -> None:
        if not (self.activity_mbq > 0):
            raise ValueError(f"administered activity_mbq must be positive, got {self.activity_mbq}")
        if self.residual_mbq < 0:
            raise ValueError(f"residual_mbq must be >= 0, got {self.residual_mbq}")
        if not isinstance(self.time, dt.datetime):
            raise TypeError(f"administration time must be a datetime, got {type(self.time).__name__}")

    @classmethod
    def from_gross(cls, radiopharmaceutical: str, nuclide: str, gross_mbq: float, residual_mbq: float,
                   time: dt.datetime) -> "Administration":
        """Net activity = syringe activity before injection - residual (both at injection time)."""
        if residual_mbq > gross_mbq:
            raise ValueError(f"syringe residual {residual_mbq} MBq exceeds the gross activity {gross_mbq} MBq")
        return cls(radiopharmaceutical, nuclide, gross_mbq - residual_mbq, time, residual_mbq)


@dataclass(frozen=True)
class TimePoint:
    """Images acquired together at one time after an administration."""

    label: str
    acquisition_time: dt.datetime
    images: Mapping[str, Image] = field(default_factory=dict)
    masks: Mapping[str, LabelMap] = field(default_factory=dict)

    def hours_after(self, administration: Administration) -> float:
        return (self.acquisition_time - administration.time).total_seconds() / 3600.0


@dataclass(frozen=True)
class Cycle:
    """One administration and the time points imaged after it."""

    index: int
    administration: Administration
    timepoints: tuple[TimePoint, ...] = ()

    def __post_init__(self) -> None:
        tps = tuple(self.timepoints)
        times = [tp.acquisition_time for tp in tps]
        if any(b <= a for a, b in zip(times, times[1:])):
            labels = [tp.label for tp in tps]
            raise ValueError(f"cycle {self.index}: time points must be strictly increasing in time, got {labels} at {times}")
        for tp in tps:
            if tp.acquisition_time < self.administration.time:
                raise ValueError(f"cycle {self.index}: time point {tp.label!r} at {tp.acquisition_time} "
                                 f"precedes the administration at {self.administration.time}")
        object.__setattr__(self, "timepoints", tps)

    @property
    def hours(self) -> list[float]:
        """Hours after administration of each time point."""
        return [tp.hours_after(self.administration) for tp in self.timepoints]


@dataclass(frozen=True)
class Study:
    """Everything known about one patient."""

    patient: Patient
    cycles: tuple[Cycle, ...] = ()

    def __post_init__(self) -> None:
        cycles = tuple(self.cycles)
        indices = [c.index for c in cycles]
        if len(set(indices)) != len(indices):
            raise ValueError(f"cycle indices must be unique, got {indices}")
        object.__setattr__(self, "cycles", tuple(sorted(cycles, key=lambda c: c.index)))

    def cycle(self, index: int) -> Cycle:
        for c in self.cycles:
            if c.index == index:
                return c
        raise KeyError(f"study of patient {self.patient.patient_id} has no cycle {index}; it has {[c.index for c in self.cycles]}")
