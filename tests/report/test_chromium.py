"""The report renders in a real browser (headless Chromium) with all its images."""
import json
import re
import shutil
import subprocess
import time

import pytest

from emgpipe.report.data import load_nights
from emgpipe.report.html import write_report
from tests.report.report_helpers import make_night

CHROMIUM = next(filter(None, (shutil.which(n) for n in ("chromium", "chromium-browser"))), None)

#: Appended to a copy of the report: after load, write what the browser made of each image.
CHECK = """
<script>
window.addEventListener('load', function () {
  var out = Array.prototype.map.call(document.images, function (im) {
    return {w: im.naturalWidth, h: im.naturalHeight, done: im.complete, data: im.src.indexOf('data:image/png') === 0};
  });
  var pre = document.createElement('pre');
  pre.id = 'imgcheck';
  pre.textContent = JSON.stringify({images: out, title: document.title,
                                    tables: document.getElementsByTagName('table').length});
  document.body.appendChild(pre);
});
</script>
"""


@pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (Debian: apt-get install -y chromium)")
def test_report_renders_in_headless_chromium(tmp_path):
    make_night(tmp_path, time.time() - 9 * 3600)
    page = write_report(load_nights(tmp_path)[0])
    probe = tmp_path / "probe.html"
    probe.write_text(page.read_text(encoding="utf-8").replace("</body>", CHECK + "</body>"), encoding="utf-8")
    profile = tmp_path / "chromium-profile"
    cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           "--disable-dev-shm-usage", f"--user-data-dir={profile}", "--virtual-time-budget=5000",
           "--dump-dom", probe.as_uri()]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=90)
    m = re.search(r'<pre id="imgcheck">(.*?)</pre>', proc.stdout, re.S)
    assert m, f"Chromium did not run the page: rc={proc.returncode} {proc.stderr[-800:]}"
    got = json.loads(m.group(1).replace("&quot;", '"').replace("&amp;", "&"))
    assert len(got["images"]) == 4
    for im in got["images"]:
        assert im["done"] and im["data"] and im["w"] > 400 and im["h"] > 100
    assert got["title"].endswith("emgpipe report") and got["tables"] == 2   # cramps, recording facts
