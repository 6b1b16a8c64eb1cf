"""The reports render in a real browser (headless Chromium): every image loads, no console
error, on a night's report with the EMG around its cramp, on a replayed recording's report
and on the index page of a folder of reports."""
import json
import re
import shutil
import subprocess
import time

import pytest

from emgpipe.cli import main
from emgpipe.night.recorder import NightRecorder
from emgpipe.report.data import load_nights
from emgpipe.report.html import write_report
from tests.report.report_helpers import make_night, replayed_folder

CHROMIUM = next(filter(None, (shutil.which(n) for n in ("chromium", "chromium-browser"))), None)
pytestmark = pytest.mark.skipif(CHROMIUM is None,
                                reason="Chromium is not installed (Debian: apt-get install -y chromium)")

#: Put first in a copy of the page: record every error (scripts, and resources that fail to
#: load: capture phase), then after load write what the browser made of each image.
CHECK = """
<script>
var probeErrors = [];
window.addEventListener('error', function (ev) {
  var t = ev.target || {};
  probeErrors.push(t.tagName ? ('resource ' + t.tagName + ' ' + String(t.src || t.href).slice(0, 60))
                             : String(ev.message));
}, true);
window.addEventListener('load', function () {
  var out = Array.prototype.map.call(document.images, function (im) {
    return {w: im.naturalWidth, h: im.naturalHeight, done: im.complete, alt: im.alt,
            data: im.src.indexOf('data:image/png') === 0};
  });
  var pre = document.createElement('pre');
  pre.id = 'imgcheck';
  pre.textContent = JSON.stringify({images: out, title: document.title, errors: probeErrors,
                                    tables: document.getElementsByTagName('table').length,
                                    links: Array.prototype.map.call(document.links, function (a) {
                                      return a.getAttribute('href'); })});
  document.body.appendChild(pre);
});
</script>
"""


def in_browser(page, tmp_path):
    """Load a copy of ``page`` (beside it, so relative links resolve) in headless Chromium."""
    probe = page.with_name("probe-" + page.name)
    probe.write_text(page.read_text(encoding="utf-8").replace("<head>", "<head>" + CHECK, 1), encoding="utf-8")
    profile = tmp_path / "chromium-profile"
    cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           "--disable-dev-shm-usage", f"--user-data-dir={profile}", "--virtual-time-budget=5000",
           "--enable-logging=stderr", "--v=0", "--dump-dom", probe.as_uri()]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=90)
    probe.unlink()
    m = re.search(r'<pre id="imgcheck">(.*?)</pre>', proc.stdout, re.S)
    assert m, f"Chromium did not run the page: rc={proc.returncode} {proc.stderr[-800:]}"
    got = json.loads(m.group(1).replace("&quot;", '"').replace("&amp;", "&").replace("&lt;", "<")
                     .replace("&gt;", ">"))
    console = [ln for ln in proc.stderr.splitlines() if "CONSOLE" in ln and probe.name in ln]
    assert got["errors"] == [] and console == [], (got["errors"], console)
    for im in got["images"]:
        assert im["done"] and im["data"] and im["w"] > 400 and im["h"] > 100, im
    return got


def test_night_report_with_cramp_zoom_renders(tmp_path):
    out = tmp_path / "night"
    rec = NightRecorder("sim:walk_then_cramp?seed=2", out, speed="max", mode="awake",
                        answers_path=tmp_path / "answers.json")
    assert rec.run().status == "complete"
    [night] = load_nights(out)
    assert len(night.cramps) == 1
    got = in_browser(write_report(night), tmp_path)
    # timeline, fasciculations, activity, quality, and the cramp's EMG
    assert len(got["images"]) == 5 and got["images"][-1]["alt"] == "EMG around cramp 1"
    assert got["title"].endswith("emgpipe report")
    assert got["tables"] == 3                          # reference ranges, cramps, recording facts
    assert "#ref-naylor-young-1994" in got["links"]


def test_synthetic_night_report_renders(tmp_path):
    make_night(tmp_path, time.time() - 9 * 3600)
    got = in_browser(write_report(load_nights(tmp_path)[0]), tmp_path)
    assert len(got["images"]) == 4 and got["tables"] == 3   # no raw files: no zoom image, a note instead


def test_index_and_replayed_reports_render(tmp_path, capsys):
    events, recordings = replayed_folder(tmp_path, n=2)
    out = tmp_path / "reports" / "new"
    assert main(["report", str(events), "--recordings", str(recordings), "--out", str(out)]) == 0
    index = out / "index.html"
    got = in_browser(index, tmp_path)
    assert len(got["images"]) == 1
    reports = sorted(h for h in got["links"] if h.endswith(".report.html"))
    assert reports == ["rec0.report.html", "rec1.report.html"]
    for name in reports:
        page = in_browser(out / name, tmp_path)
        assert [im["alt"] for im in page["images"]][-1] == "EMG around cramp 1"


def test_the_check_sees_broken_images_and_script_errors(tmp_path):
    page = tmp_path / "broken.html"
    page.write_text("<!DOCTYPE html><html><head><title>x</title></head><body>"
                    "<img src='data:image/png;base64,AAAA' alt='broken'>"
                    "<script>undefinedFunction();</script></body></html>", encoding="utf-8")
    with pytest.raises(AssertionError) as err:
        in_browser(page, tmp_path)
    assert "resource IMG" in str(err.value) and "undefinedFunction" in str(err.value)
