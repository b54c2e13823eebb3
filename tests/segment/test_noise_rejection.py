"""Noise rejection of detection candidates (local significance) and the resolution-aware spill-out
margin of the quantification workflow."""
import numpy as np
import pytest
from scipy import ndimage

from theranomics.core import Geometry, Image, LabelMap
from theranomics.quant.pipeline import QuantifySettings, exclusion_margin
from theranomics.segment import label_components
from theranomics.segment.threshold import drop_insignificant, local_significance

SHAPE = (40, 64, 64)


def _geometry(mm=4.0) -> Geometry:
    return Geometry(SHAPE, (mm, mm, mm))


def _lesion(peak: float, centre=(20, 32, 32), sigma_vox=1.5) -> np.ndarray:
    img = np.zeros(SHAPE)
    img[centre] = 1.0
    img = ndimage.gaussian_filter(img, sigma_vox)
    return peak * img / img.max()


def test_a_lesion_stands_out_a_noise_spike_does_not():
    rng = np.random.default_rng(0)
    values = 1.0 + 0.5 * rng.standard_normal(SHAPE) + _lesion(8.0)
    values[10, 10, 10] = 1.0 + 4.5 * 0.5          # a 4.5 SD spike, above an SUV threshold of 3
    geo = _geometry()
    cands = label_components(values >= 3.0, geo, 0.0, values)
    z = local_significance(values, cands)
    spike = int(cands.array[10, 10, 10])
    lesion = int(cands.array[20, 32, 32])
    assert z[lesion] > 10 and 3.5 < z[spike] < 5.5
    kept, _ = drop_insignificant(values, cands, 5.0)
    assert kept.array[20, 32, 32] > 0 and kept.array[10, 10, 10] == 0
    assert kept.names == {i: f"lesion_{i}" for i in range(1, len(kept.labels) + 1)}


def test_pure_noise_leaves_at_most_one_focus():
    """Background SUV 1 ± 0.5, fixed threshold at +3 SD: hundreds of noise candidates; 5 SD keeps ≤ 1."""
    rng = np.random.default_rng(1)
    values = 1.0 + 0.5 * rng.standard_normal(SHAPE)
    cands = label_components(values >= 2.5, _geometry(), 0.0, values)
    assert len(cands.labels) > 100
    kept, z = drop_insignificant(values, cands, 5.0)
    assert len(kept.labels) <= 1
    assert np.nanmedian(list(z.values())) < 4.0


def test_noise_free_background_keeps_every_excess_and_a_crowded_shell_is_kept():
    values = np.ones(SHAPE)
    values[18:23, 30:35, 30:35] = 5.0
    cands = label_components(values >= 3.0, _geometry(), 0.0, values)
    kept, z = drop_insignificant(values, cands, 5.0)
    assert z[1] == np.inf and kept.labels == [1]
    allowed = np.zeros(SHAPE, bool)                 # no background voxel allowed: cannot tell → kept
    kept, z = drop_insignificant(values, cands, 5.0, allowed=allowed)
    assert np.isnan(z[1]) and kept.labels == [1]


def test_touching_split_candidates_stay_apart():
    rng = np.random.default_rng(2)
    values = 1.0 + 0.2 * rng.standard_normal(SHAPE) + _lesion(8.0, (20, 32, 28)) + _lesion(8.0, (20, 32, 36))
    arr = np.zeros(SHAPE, np.int32)
    hot = values >= 3.0
    arr[hot & (np.arange(SHAPE[2]) < 32)[None, None, :]] = 1
    arr[hot & (np.arange(SHAPE[2]) >= 32)[None, None, :]] = 2
    cands = LabelMap(arr, _geometry(), {1: "lesion_1", 2: "lesion_2"})
    kept, _ = drop_insignificant(values, cands, 5.0)
    assert len(kept.labels) == 2 and (kept.array > 0).sum() == hot.sum()


def test_spill_out_margin_is_at_least_two_voxels():
    img = lambda mm: Image(np.zeros(SHAPE), _geometry(mm), "SUVbw", "PT")  # noqa: E731
    assert exclusion_margin(8.0, img(4.0)) == 8.0
    assert exclusion_margin(8.0, img(5.0)) == 10.0
    assert exclusion_margin(12.0, img(2.0)) == 12.0


def test_detection_sd_setting_is_checked():
    assert QuantifySettings().detection_sd == 6.0 and QuantifySettings(detection_sd=None).detection_sd is None
    with pytest.raises(ValueError, match="detection_sd"):
        QuantifySettings(detection_sd=-1.0)
