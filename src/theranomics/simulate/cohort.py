"""Feature-level virtual cohorts: patient and lesion tables with centre effects and planted signal.

The fast mode of the cohort generator (no images): it draws what the analysis pipeline would
have measured, so that the modelling layer (:mod:`theranomics.models`) can be tested against a
known truth.  Generative model (all natural logarithms; ``z`` = standard normal draws):

* **Centres** ``c = 0..n_centres-1`` assigned uniformly.  A centre acts only on measurement:
  radiomics-like feature ``j`` is observed as ``x = mu_j + gamma_cj + sigma_j * delta_cj * f``
  (the additive/multiplicative batch model of ComBat, Johnson et al., Biostatistics 2007), and
  PET uptake (SUV) is multiplied by ``exp(suv_log_bias_c)``.  Biology and outcomes do not depend
  on the centre.
* **Lesions:** ``n = 1 + Poisson(lesion_rate)`` per patient; ``log volume_ml ~ N(log 4, 0.8)``;
  patient expression ``e ~ N(0, 1)``; ``log suv_mean = log 8 + 0.4 e + 0.3 z``;
  heterogeneity ``cov = 0.1 + 0.3 * sigmoid(z)``; ``suv_max = suv_mean * (1 + 2 cov)``.
* **Response** (binary): ``logit P = b0 + effect_size * sum_j s_j f_j + expression_effect *
  (log lowest-uptake lesion suv_mean - log 8) / 0.35`` over the informative features ``j``
  (random signs ``s_j``); all other features and clinical covariates have no effect.
* **Overall survival** (months): exponential, hazard ``h = h0 exp(lp)`` with
  ``lp = log_hr_volume * (log total tumour volume_ml - log 15) + log_hr_ldh * (log ldh_u_l - log 250)``;
  administrative censoring ``C ~ U(censor_min, censor_max)`` months.
* **Absorbed dose** (post-therapy, Gy/GBq, independent of the PET centre):
  kidney ``0.04 * kidney_suv_mean * (90 / egfr)^0.5 * exp(0.1 z)``;
  lesion ``0.5 * suv_mean * exp(0.15 z)``.

The generator reports the Bayes-optimal AUC and concordance of its own model, computed by Monte
Carlo on a separate large draw (``truth.bayes_auc``, ``truth.bayes_c_index``).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

__all__ = ["CohortTruth", "VirtualCohort", "simulate_feature_cohort", "expected_auc", "concordance_probability"]

_LOG_SUV_REF = np.log(8.0)
_LOWEST_SUV_SCALE = 0.35


@dataclass(frozen=True)
class CohortTruth:
    """What the generator planted (the ground truth for tests)."""

    informative_features: tuple[str, ...]
    response_coef: dict[str, float]
    response_intercept: float
    expression_effect: float
    bayes_auc: float
    survival_log_hr: dict[str, float]
    bayes_c_index: float
    baseline_hazard_per_month: float
    centre_shift: np.ndarray = field(repr=False)
    centre_scale: np.ndarray = field(repr=False)
    suv_log_bias: np.ndarray = field(repr=False)


@dataclass(frozen=True)
class VirtualCohort:
    """``patients`` (one row per patient), ``lesions`` (one row per lesion), ``truth``."""

    patients: pd.DataFrame
    lesions: pd.DataFrame
    truth: CohortTruth
    feature_names: tuple[str, ...]
    seed: int


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def expected_auc(score: np.ndarray, p: np.ndarray) -> float:
    """Population AUC of ``score`` when subject ``i`` is positive with probability ``p_i``.

    ``AUC = sum_{i != j} p_i (1 - p_j) [1(s_i > s_j) + 1/2 1(s_i = s_j)] / sum_{i != j} p_i (1 - p_j)``
    (the expectation of the Mann–Whitney statistic over the labels; Hanley & McNeil 1982).
    With ``score`` = the true risk this is the Bayes-optimal AUC.
    """
    score = np.asarray(score, float)
    p = np.asarray(p, float)
    order = np.argsort(score, kind="mergesort")
    s, pp = score[order], p[order]
    q = 1.0 - pp
    # negatives strictly below each position, handling ties as one half
    uniq, start = np.unique(s, return_index=True)
    cum_q = np.concatenate([[0.0], np.cumsum(q)])
    group = np.searchsorted(uniq, s)
    end = np.append(start[1:], len(s))
    below = cum_q[start[group]]
    tied = cum_q[end[group]] - cum_q[start[group]] - q  # tied others (excluding self)
    num = float(np.sum(pp * (below + 0.5 * tied)))
    den = float(pp.sum() * q.sum() - np.sum(pp * q))
    return num / den


def concordance_probability(lp: np.ndarray, rng: np.random.Generator, n_pairs: int = 2_000_000) -> float:
    """Bayes concordance of an exponential proportional-hazards model without censoring.

    For hazards ``exp(lp_i)``: ``P(T_i < T_j) = exp(lp_i) / (exp(lp_i) + exp(lp_j))``; the
    concordance of the true risk is the mean of that over random pairs ordered so that
    ``lp_i > lp_j`` (Harrell's C in the limit of no censoring).
    """
    lp = np.asarray(lp, float)
    i = rng.integers(0, len(lp), n_pairs)
    j = rng.integers(0, len(lp), n_pairs)
    hi, lo = np.maximum(lp[i], lp[j]), np.minimum(lp[i], lp[j])
    keep = hi > lo
    return float(np.mean(_sigmoid(hi[keep] - lo[keep])))


def _draw_lesions(rng: np.random.Generator, n_patients: int, lesion_rate: float):
    n_les = 1 + rng.poisson(lesion_rate, n_patients)
    pid = np.repeat(np.arange(n_patients), n_les)
    expression = rng.standard_normal(n_patients)
    n = len(pid)
    volume = np.exp(np.log(4.0) + 0.8 * rng.standard_normal(n))
    log_suv_mean = _LOG_SUV_REF + 0.4 * expression[pid] + 0.3 * rng.standard_normal(n)
    cov = 0.1 + 0.3 * _sigmoid(rng.standard_normal(n))
    return n_les, pid, volume, np.exp(log_suv_mean), cov


def _lesion_aggregates(n_patients: int, pid: np.ndarray, volume: np.ndarray, suv_mean: np.ndarray):
    total_volume = np.bincount(pid, weights=volume, minlength=n_patients)
    lowest = np.full(n_patients, np.inf)
    np.minimum.at(lowest, pid, suv_mean)
    return total_volume, lowest


def _response_lp(f_inf: np.ndarray, signs: np.ndarray, lowest_suv: np.ndarray, intercept: float,
                 effect_size: float, expression_effect: float) -> np.ndarray:
    return (intercept + effect_size * (f_inf @ signs)
            + expression_effect * (np.log(lowest_suv) - _LOG_SUV_REF) / _LOWEST_SUV_SCALE)


def _clinical(rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    return {
        "age_y": np.round(np.clip(70 + 8 * rng.standard_normal(n), 40, 95), 1),
        "psa_ng_ml": np.exp(np.log(60) + 1.2 * rng.standard_normal(n)),
        "alp_u_l": np.exp(np.log(120) + 0.5 * rng.standard_normal(n)),
        "ldh_u_l": np.exp(np.log(250) + 0.35 * rng.standard_normal(n)),
        "egfr_ml_min": np.clip(80 + 15 * rng.standard_normal(n), 25, 130),
        "prior_treatments": rng.poisson(1.2, n),
        "kidney_suv_mean": np.exp(np.log(15) + 0.25 * rng.standard_normal(n)),
    }


def _survival_lp(total_volume: np.ndarray, ldh: np.ndarray, log_hr_volume: float, log_hr_ldh: float) -> np.ndarray:
    return log_hr_volume * (np.log(total_volume) - np.log(15.0)) + log_hr_ldh * (np.log(ldh) - np.log(250.0))


def simulate_feature_cohort(n_patients: int = 200, n_features: int = 50, n_informative: int = 5, *,
                            effect_size: float = 0.8, expression_effect: float = 0.0,
                            response_intercept: float = 0.0, n_centres: int = 3,
                            centre_shift_sd: float = 1.0, centre_scale_sd: float = 0.3,
                            suv_bias_sd: float = 0.15, lesion_rate: float = 3.0,
                            log_hr_volume: float = 0.8, log_hr_ldh: float = 1.5,
                            baseline_hazard_per_month: float = 1 / 24, censor_min_months: float = 12.0,
                            censor_max_months: float = 60.0, n_monte_carlo: int = 200_000,
                            seed: int = 0) -> VirtualCohort:
    """Draw a feature-level virtual cohort (see the module docstring for the generative model).

    ``patients`` columns: ``patient_id, centre, age_y, psa_ng_ml, alp_u_l, ldh_u_l, egfr_ml_min,
    prior_treatments, kidney_suv_mean, f0000…`` (radiomics-like features), outcomes ``response``
    (0/1), ``os_time_months``, ``os_event`` (0/1), ``kidney_dose_gy_per_gbq``.
    ``lesions`` columns: ``patient_id, lesion_id, centre, volume_ml, suv_mean, suv_max,
    heterogeneity_cov, dose_gy_per_gbq``.  ``effect_size = 0`` and ``expression_effect = 0``
    give a cohort with no response signal (Bayes AUC 0.5).
    """
    for name, val in (("n_patients", n_patients), ("n_features", n_features), ("n_centres", n_centres)):
        if int(val) < 1:
            raise ValueError(f"{name} must be >= 1, got {val}")
    if not 0 <= n_informative <= n_features:
        raise ValueError(f"n_informative must be in [0, n_features={n_features}], got {n_informative}")
    if censor_max_months < censor_min_months or censor_min_months <= 0:
        raise ValueError("need 0 < censor_min_months <= censor_max_months")
    rng = np.random.default_rng(seed)
    width = max(4, len(str(n_features - 1)))
    names = tuple(f"f{j:0{width}d}" for j in range(n_features))
    inf_idx = np.sort(rng.choice(n_features, n_informative, replace=False))
    signs = rng.choice([-1.0, 1.0], n_informative)
    mu = rng.normal(0, 5, n_features)
    sigma = np.exp(rng.normal(0, 0.5, n_features))
    gamma = rng.normal(0, centre_shift_sd, (n_centres, n_features)) * sigma
    delta = np.exp(rng.normal(0, centre_scale_sd, (n_centres, n_features)))
    suv_bias = rng.normal(0, suv_bias_sd, n_centres)

    centre = rng.integers(0, n_centres, n_patients)
    f_true = rng.standard_normal((n_patients, n_features))
    x = mu + gamma[centre] + sigma * delta[centre] * f_true
    n_les, pid, volume, suv_mean, cov = _draw_lesions(rng, n_patients, lesion_rate)
    total_volume, lowest = _lesion_aggregates(n_patients, pid, volume, suv_mean)
    clin = _clinical(rng, n_patients)

    lp = _response_lp(f_true[:, inf_idx], signs, lowest, response_intercept, effect_size, expression_effect)
    response = (rng.random(n_patients) < _sigmoid(lp)).astype(int)
    slp = _survival_lp(total_volume, clin["ldh_u_l"], log_hr_volume, log_hr_ldh)
    t_event = rng.exponential(1.0 / (baseline_hazard_per_month * np.exp(slp)))
    t_cens = rng.uniform(censor_min_months, censor_max_months, n_patients)
    kidney_dose = 0.04 * clin["kidney_suv_mean"] * np.sqrt(90.0 / clin["egfr_ml_min"]) * np.exp(
        0.1 * rng.standard_normal(n_patients))
    lesion_dose = 0.5 * suv_mean * np.exp(0.15 * rng.standard_normal(len(pid)))

    pids = np.array([f"P{i:04d}" for i in range(n_patients)])
    bias = np.exp(suv_bias[centre])
    patients = pd.DataFrame({"patient_id": pids, "centre": [f"C{c}" for c in centre], **clin})
    patients["kidney_suv_mean"] = patients["kidney_suv_mean"] * bias
    patients = pd.concat([patients, pd.DataFrame(x, columns=names)], axis=1)
    patients["response"] = response
    patients["os_time_months"] = np.minimum(t_event, t_cens)
    patients["os_event"] = (t_event <= t_cens).astype(int)
    patients["kidney_dose_gy_per_gbq"] = kidney_dose
    lesion_no = np.concatenate([np.arange(1, k + 1) for k in n_les])
    lesions = pd.DataFrame({
        "patient_id": pids[pid], "lesion_id": lesion_no, "centre": [f"C{c}" for c in centre[pid]],
        "volume_ml": volume, "suv_mean": suv_mean * bias[pid], "suv_max": suv_mean * (1 + 2 * cov) * bias[pid],
        "heterogeneity_cov": cov, "dose_gy_per_gbq": lesion_dose})

    # Bayes-optimal performance of the generative model, on a separate large draw
    mc = np.random.default_rng([seed, 1])
    m = int(n_monte_carlo)
    _, mpid, mvol, msuv, _ = _draw_lesions(mc, m, lesion_rate)
    mtot, mlow = _lesion_aggregates(m, mpid, mvol, msuv)
    mlp = _response_lp(mc.standard_normal((m, n_informative)), signs, mlow, response_intercept, effect_size,
                       expression_effect)
    bayes_auc = expected_auc(mlp, _sigmoid(mlp))
    mldh = np.exp(np.log(250) + 0.35 * mc.standard_normal(m))
    bayes_c = concordance_probability(_survival_lp(mtot, mldh, log_hr_volume, log_hr_ldh), mc)

    truth = CohortTruth(
        informative_features=tuple(names[i] for i in inf_idx),
        response_coef={names[i]: float(effect_size * s) for i, s in zip(inf_idx, signs)},
        response_intercept=float(response_intercept), expression_effect=float(expression_effect),
        bayes_auc=float(bayes_auc),
        survival_log_hr={"log_total_volume_ml": float(log_hr_volume), "log_ldh_u_l": float(log_hr_ldh)},
        bayes_c_index=float(bayes_c), baseline_hazard_per_month=float(baseline_hazard_per_month),
        centre_shift=gamma, centre_scale=delta, suv_log_bias=suv_bias)
    return VirtualCohort(patients, lesions, truth, names, seed)
