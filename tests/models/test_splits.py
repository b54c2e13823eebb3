"""Patient-grouped folds."""
from __future__ import annotations

import numpy as np
import pytest

from theranomics.models.splits import RepeatedGroupKFold, check_grouped


def test_lesions_of_a_patient_never_straddle_folds():
    rng = np.random.default_rng(0)
    groups = np.repeat(np.arange(60), rng.integers(1, 6, 60))
    y = (rng.random(60) < 0.4).astype(int)[groups]
    cv = RepeatedGroupKFold(5, 3, random_state=1)
    splits = list(cv.split(np.zeros(len(groups)), y, groups))
    assert len(splits) == cv.get_n_splits() == 15
    check_grouped(splits, groups)
    for r in range(3):  # each repeat tests every row exactly once
        tested = np.concatenate([t for _, t in splits[5 * r:5 * r + 5]])
        assert np.array_equal(np.sort(tested), np.arange(len(groups)))
    assert not np.array_equal(splits[0][1], splits[5][1])  # repeats differ
    for _, test in splits:  # stratified: class balance of each test fold near the overall rate
        assert abs(y[test].mean() - y.mean()) < 0.15


def test_unstratified_and_errors():
    groups = np.repeat(np.arange(10), 2)
    splits = list(RepeatedGroupKFold(5, 1, stratify=False).split(np.zeros(20), None, groups))
    check_grouped(splits, groups)
    with pytest.raises(ValueError, match="needs groups"):
        list(RepeatedGroupKFold(5).split(np.zeros(20)))
    with pytest.raises(ValueError, match="cannot fill"):
        list(RepeatedGroupKFold(20).split(np.zeros(20), None, groups))
    with pytest.raises(ValueError, match="both training and test"):
        check_grouped([(np.array([0]), np.array([1]))], np.array(["P", "P"]))
