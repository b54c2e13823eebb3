"""Benchmark: one 60-day solve of the PBPK twin vs a straightforward ``solve_ivp(LSODA)``.

The reference a user would otherwise write: the published hot/cold equations
(:meth:`PBPKModel.full_rhs`, with the TIA/Lea–Catcheside accumulators) handed to
``scipy.integrate.solve_ivp(method="LSODA")`` — default tolerances, and tight ones for the
accuracy reference.  Ours: :meth:`PBPKModel.solve` (total ligand + linear tags, structured
Rosenbrock solve), single and batched over patients; and the planner over ≥ 10⁴ schedules.

Run:  python benchmarks/bench_twin.py
"""
from __future__ import annotations

import statistics
import time

import numpy as np
from scipy.integrate import solve_ivp

from theranomics.twin import PBPKModel, Schedule, default_patient, plan_schedules
from theranomics.twin.planning import PlanningConstraints

T_END_H = 60 * 24.0


def _best_of(fn, repeat=5):
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return min(times), statistics.median(times), out


def lsoda(model: PBPKModel, activity_mbq: float, ligand_nmol: float, **kw):
    n = model.n_states
    y0 = np.zeros(2 * n + 3 * model.n_organs)
    hot = activity_mbq / model.ligand.molar_activity_mbq_per_nmol
    y0[0], y0[n] = hot, ligand_nmol - hot
    res = solve_ivp(lambda t, y: model.full_rhs(y[None])[0], (0.0, T_END_H), y0, method="LSODA", **kw)
    return res.y[2 * n:2 * n + model.n_organs, -1] / activity_mbq          # TIA per MBq (h)


def main() -> None:
    ligand = "psma-617"
    patient = default_patient(ligand)
    model = PBPKModel(ligand, patient)
    schedule = Schedule([0.0], [7400.0], [100.0])
    ref = lsoda(model, 7400.0, 100.0, rtol=1e-9, atol=1e-12)

    def ours():
        sol = model.solve(schedule, horizon_h=T_END_H, rtol=1e-2)
        return sol.system.split(sol.y[:, -1])[2][0, 0, 0]

    t_l, t_l_med, tia_l = _best_of(lambda: lsoda(model, 7400.0, 100.0))
    t_lt, _, tia_lt = _best_of(lambda: lsoda(model, 7400.0, 100.0, rtol=1e-6, atol=1e-10), repeat=3)
    t_o, t_o_med, tia_o = _best_of(ours, repeat=10)
    batch = PBPKModel(ligand, [patient.with_values({"kidneys.receptor_density_nmol_l": r})
                               for r in np.linspace(10, 40, 100)])
    t_b, _, _ = _best_of(lambda: batch.solve(schedule, horizon_h=T_END_H, rtol=1e-2), repeat=3)

    def err(x):
        return float(np.max(np.abs(x / ref - 1)))

    print(f"{'method':48s} {'time/solve':>12s} {'speed-up':>9s} {'max rel. TIA error':>19s}")
    print(f"{'solve_ivp LSODA, default tolerances':48s} {t_l * 1e3:9.1f} ms {1.0:9.1f} {err(tia_l):19.2e}")
    print(f"{'solve_ivp LSODA, rtol 1e-6 atol 1e-10':48s} {t_lt * 1e3:9.1f} ms {t_l / t_lt:9.2f} {err(tia_lt):19.2e}")
    print(f"{'twin solve (tags + Rosenbrock), single':48s} {t_o * 1e3:9.1f} ms {t_l / t_o:9.1f} {err(tia_o):19.2e}")
    print(f"{'twin solve, batch of 100 patients (per solve)':48s} {t_b / 100 * 1e3:9.1f} ms "
          f"{t_l / (t_b / 100):9.1f}")
    print(f"(median single: LSODA {t_l_med * 1e3:.1f} ms, twin {t_o_med * 1e3:.1f} ms)")

    t0 = time.perf_counter()
    plan = plan_schedules(model, n_cycles=4, interval_weeks=6.0, activity_grid_mbq=np.linspace(3000, 10000, 11),
                          ligand_grid_nmol=(100.0,), constraints=PlanningConstraints())
    dt = time.perf_counter() - t0
    print(f"planning: {plan.n_candidates} candidate schedules in {dt:.2f} s (best: {plan.best_activity_mbq})")


if __name__ == "__main__":
    main()
