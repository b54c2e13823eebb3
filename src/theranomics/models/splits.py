"""Patient-grouped cross-validation splitters: lesions of one patient never straddle folds."""
from __future__ import annotations

import numpy as np
from sklearn.model_selection import GroupKFold, LeaveOneGroupOut, StratifiedGroupKFold

__all__ = ["RepeatedGroupKFold", "patient_folds", "check_grouped", "LeaveOneGroupOut"]


class RepeatedGroupKFold:
    """``n_repeats`` x ``n_splits`` grouped folds, stratified on ``y`` when ``stratify`` (binary/class y).

    Each repeat is a :class:`sklearn.model_selection.StratifiedGroupKFold` (or a shuffled
    :class:`~sklearn.model_selection.GroupKFold` when not stratified) with its own seed derived
    from ``random_state``; ``groups`` (patient ids) are required.
    """

    def __init__(self, n_splits: int = 5, n_repeats: int = 1, *, stratify: bool = True, random_state: int | None = 0):
        if int(n_splits) < 2:
            raise ValueError(f"n_splits must be >= 2, got {n_splits}")
        if int(n_repeats) < 1:
            raise ValueError(f"n_repeats must be >= 1, got {n_repeats}")
        self.n_splits = int(n_splits)
        self.n_repeats = int(n_repeats)
        self.stratify = stratify
        self.random_state = random_state

    def get_n_splits(self, X=None, y=None, groups=None) -> int:
        return self.n_splits * self.n_repeats

    def split(self, X, y=None, groups=None):
        if groups is None:
            raise ValueError("RepeatedGroupKFold needs groups (patient ids) so that a patient's rows stay in one fold")
        groups = np.asarray(groups)
        n_groups = len(np.unique(groups))
        if n_groups < self.n_splits:
            raise ValueError(f"{n_groups} patients cannot fill {self.n_splits} folds")
        seeds = np.random.default_rng(self.random_state).integers(0, 2**31 - 1, self.n_repeats)
        for seed in seeds:
            if self.stratify and y is not None:
                cv = StratifiedGroupKFold(self.n_splits, shuffle=True, random_state=int(seed))
                yield from cv.split(X, np.asarray(y), groups)
            else:
                # GroupKFold is deterministic: shuffle by relabelling the groups
                uniq, inv = np.unique(groups, return_inverse=True)
                perm = np.random.default_rng(int(seed)).permutation(len(uniq))
                yield from GroupKFold(self.n_splits).split(X, y, perm[inv])


def patient_folds(n_splits: int = 5, n_repeats: int = 1, *, stratify: bool = True,
                  random_state: int | None = 0) -> RepeatedGroupKFold:
    """The default outer/inner splitter of :mod:`theranomics.models` (see :class:`RepeatedGroupKFold`)."""
    return RepeatedGroupKFold(n_splits, n_repeats, stratify=stratify, random_state=random_state)


def check_grouped(splits, groups) -> None:
    """Raise ``ValueError`` if any patient (group) has rows in both the training and test side of a split."""
    groups = np.asarray(groups)
    for k, (train, test) in enumerate(splits):
        shared = np.intersect1d(groups[train], groups[test])
        if shared.size:
            raise ValueError(f"split {k}: patient(s) {shared[:5].tolist()} are in both training and test folds")
