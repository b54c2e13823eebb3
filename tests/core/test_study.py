import datetime as dt

import pytest

from theranomics.core import Administration, Cycle, Patient, Study, TimePoint

T0 = dt.datetime(2026, 3, 1, 9, 0)


def test_cycle_hours_and_net_activity():
    admin = Administration.from_gross("[177Lu]Lu-PSMA-617", "Lu-177", 7500.0, 100.0, T0)
    assert admin.activity_mbq == pytest.approx(7400.0)
    tps = [TimePoint(f"{h}h", T0 + dt.timedelta(hours=h)) for h in (4, 24, 96)]
    cycle = Cycle(1, admin, tps)
    assert cycle.hours == pytest.approx([4, 24, 96])


def test_bad_study_input():
    admin = Administration("x", "Lu-177", 7400.0, T0)
    with pytest.raises(ValueError, match="strictly increasing"):
        Cycle(1, admin, [TimePoint("24h", T0 + dt.timedelta(hours=24)), TimePoint("4h", T0 + dt.timedelta(hours=4))])
    with pytest.raises(ValueError, match="precedes the administration"):
        Cycle(1, admin, [TimePoint("pre", T0 - dt.timedelta(hours=1))])
    with pytest.raises(ValueError, match="activity_mbq must be positive"):
        Administration("x", "Lu-177", -5.0, T0)
    with pytest.raises(ValueError, match="residual"):
        Administration.from_gross("x", "Lu-177", 100.0, 150.0, T0)
    with pytest.raises(ValueError, match="sex"):
        Patient("p1", 80, 180, "male")
    with pytest.raises(ValueError, match="unique"):
        Study(Patient("p1"), [Cycle(1, admin), Cycle(1, admin)])
    with pytest.raises(KeyError, match="no cycle 3"):
        Study(Patient("p1"), [Cycle(1, admin)]).cycle(3)
