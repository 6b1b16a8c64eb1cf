"""`emgpipe nights`: past nights with their counts and a trend over the weeks."""
import re
import time

import numpy as np

from emgpipe.cli import main
from emgpipe.report.nights import collect_nights, rolling_mean, trend_summary
from tests.report.report_helpers import make_night

DAY = 86400.0
T0 = time.mktime((2025, 2, 1, 23, 0, 0, 0, 0, -1))


def test_nights_list_and_trend(tmp_path, capsys):
    # three weeks, cramps getting rarer: 3, 2, 1, 0 ... per night; two folders, one killed night
    weekly = [3, 2, 2, 3, 2, 3, 2, 1, 2, 1, 1, 2, 1, 1, 0, 1, 0, 0, 1, 0, 0]
    for i, n in enumerate(weekly):
        folder = tmp_path / ("feb" if i < 10 else "mar")
        make_night(folder, T0 + i * DAY, hours=7.0, n_fasc=10 + i, n_lm=20, seed=i,
                   cramps=[(1.0 + k, "calf_left" if k % 2 else "calf_right", 60.0 * (k + 1), 300.0)
                           for k in range(n)], killed=(i == 20))
    rows = collect_nights(tmp_path)
    assert [r.cramps for r in rows] == weekly
    assert rows[0].cramp_s == 60 + 120 + 180 and rows[-1].status.startswith("ended without")
    assert main(["nights", str(tmp_path)]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert out[0].split() == ["night", "started", "length", "cramps", "cramp", "time", "fasc/h", "LM/h",
                              "lost", "status"]
    assert len(out) == 1 + 21 + 2
    first = out[1].split()
    assert first[:5] == ["feb/1", "2025-02-01", "23:00", "7.0", "h"] and first[5] == "3"
    assert out[11].split()[0] == "mar/1"
    assert out[-2] == ("21 nights: 0.3 cramps per night over the last 7 nights, 1.9 before (fewer).")
    page = (tmp_path / "nights.html").read_text(encoding="utf-8")
    assert out[-1] == f"trend: {tmp_path / 'nights.html'}"
    assert len(re.findall(r"src='data:image/png;base64,", page)) == 1
    assert page.count("<tr>") == 1 + 21


def test_few_nights_and_empty_folders(tmp_path, capsys):
    make_night(tmp_path, T0, hours=6.0)
    rows = collect_nights(tmp_path)
    assert trend_summary(rows) == "1 night(s), 1 cramp(s) in all (1.0 per night); a trend needs 14 nights."
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["nights", str(empty)]) == 2
    assert capsys.readouterr().err.strip() == f"emgpipe: {empty}: no nights found (no emgpipe night database below it)"


def test_rolling_mean_is_trailing():
    np.testing.assert_allclose(rolling_mean([3, 0, 0, 3], 3), [3, 1.5, 1, 1])


def test_several_nights_on_one_day_each_get_their_own_label(tmp_path, capsys):
    from emgpipe.report.nights import night_labels
    # a nap and a night on 1 Feb, a night on 2 Feb, two short recordings on 3 Feb
    starts = [T0 - 9 * 3600, T0, T0 + DAY, T0 + 1.5 * DAY, T0 + 1.5 * DAY + 3 * 3600]
    for i, t in enumerate(starts):
        make_night(tmp_path / f"n{i}", t, hours=2.0, n_fasc=3, n_lm=3, seed=i)
    rows = collect_nights(tmp_path)
    idx, labels = night_labels(rows)
    assert idx == [0, 1, 2, 3, 4]
    assert labels == ["01 Feb 14:00", "01 Feb 23:00", "02 Feb", "03 Feb 11:00", "03 Feb 14:00"]
    assert len(set(labels)) == len(labels)
    assert main(["nights", str(tmp_path), "--out", str(tmp_path / "new" / "trend")]) == 0
    assert (tmp_path / "new" / "trend" / "nights.html").is_file()
