"""Every README example runs as written (issue 16 part 3).

The README's shell examples (fenced ``bash`` blocks) and its inline commands
(```emgpipe ...```, ```python benchmarks/...```) are extracted and run in a
temporary folder with ``HOME`` there (``~/emg-nights/...`` lands in it),
through ``bash``, block by block, so variables such as ``$N`` carry over.

Hardware is replaced by what the README itself offers: ``emgpipe emulate
cyton`` and ``emgpipe emulate bridge`` on pseudo-terminals stand in for
``/dev/ttyUSB0`` and ``/dev/ttyACM0``; the Ganglion is faked at bleak's API
(in process, as tests/devices do) and the LSL stream is a real LSL outlet.
Commands that run until Ctrl-C get a bounded form (``--duration``); long
jobs get a short form. :data:`BOUNDED` and :data:`NOT_RUN` say which and
why; every extracted example must be in one of the tables or run as written
(a new README example fails :func:`test_every_example_is_accounted_for`
until it is added here).
"""
from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
README = REPO / "README.md"

pytestmark = pytest.mark.skipif(os.name != "posix", reason="bash and the pseudo-terminal emulators are POSIX")

#: Examples not run, with the reason (regex on the example -> reason).
NOT_RUN = {
    r"^python3 -m venv \.venv && .*pip install \. && emgpipe demo$":
        "creates a venv and pip-installs emgpipe and its dependencies from PyPI: needs the network and "
        "minutes (bash .ci/run does it in CI); its last step, emgpipe demo, runs here as 'emgpipe demo --fast'",
    r"^pip install '\.\[test\]' && python -m pytest$":
        "runs this test suite itself (recursion); the install needs the network",
    r"^bash \.ci/run$": "a fresh venv and a non-editable install from PyPI: network and minutes (it is CI)",
    r"^pip install 'emgpipe\[(ble|lsl)\]'$": "installs from PyPI: needs the network",
    r"^emgpipe (label|night|bench)$": "names a command in the text, not an example",
    r"^emgpipe \w+ [A-Z]+$": "a command with a placeholder (DIR) in the text; the fenced examples run it",
    r"^pip install 'emgpipe\[dask\]'$": "installs from PyPI: needs the network",
    r"^python benchmarks/dask_cohort\.py$": "starts Dask clusters over 24 simulated recordings: minutes",
    r"^python benchmarks/throughput\.py \[--repeat 5\]$":
        "minutes (four cases in their own processes, over two minutes even with --quick); its code path, "
        "the pipeline at max speed, is what every replay example here runs",
    r"^emgpipe live --source cyton:<port>$": "the port placeholder: run as the cyton example against "
                                            "'emgpipe emulate cyton' (the port it printed)",
    r"^emgpipe live --source ganglion: --duration 600 --events-out today\.events\.csv$":
        "Bluetooth LE: run in process with bleak faked at its API (test_ganglion_example), "
        "for --duration 3",
    r"^emgpipe live --source lsl:MyEMG --lsl-out$":
        "run in process against a real LSL outlet named MyEMG (test_lsl_example), with --duration 2",
    r"^dask (scheduler|worker tcp://A:8786 .*)$":
        "starts a Dask scheduler, or workers that join one on machine A (host A is the text's "
        "placeholder); tests/batch/test_cluster.py starts a cluster on this machine and runs "
        "replay, bench and report --scheduler against it",
    r"^emgpipe replay /shared/nights/ --events-out /shared/events/ --scheduler tcp://A:8786 .*$":
        "needs the scheduler on machine A and the shared folder of the text; "
        "tests/batch/test_cluster.py runs replay --scheduler against a cluster on this machine",
    r"^emgpipe calibrate --source bridge:/dev/ttyACM0$":
        "needs a wearer who relaxes and then contracts when told (an emulated bridge streams its "
        "scenario whatever the prompts say); tests/commands/test_calibrate.py runs calibrate on a "
        "recording of rest then contraction, and on one without a contraction (the one-line error)",
    r"^emgpipe emulate lsl$":
        "runs until Ctrl-C: run by test_lsl_emulator_example with --duration, under a stream name of "
        "its own (tests running at the same time on this host must not read each other's outlet)",
    r"^emgpipe live --source lsl:emgpipe-emulator$":
        "run in process by test_lsl_emulator_example against 'emgpipe emulate lsl' (that stream name "
        "of its own), with --duration 2",
}

#: Examples run in a bounded or short form: regex -> (rewrite, why).
BOUNDED = {
    r"^emgpipe demo$": (lambda c: "emgpipe demo --fast", "75 s at real speed; --fast is the same at full speed"),
    r"^emgpipe live --source (cyton|bridge):/dev/tty\w+.*$": (
        lambda c: re.sub(r"(cyton|bridge):/dev/tty\w+", lambda m: f"{m.group(1)}:${m.group(1).upper()}", c)
        + " --duration 2", "runs until Ctrl-C: --duration 2 on the emulated device"),
    r"^emgpipe night --source bridge:/dev/ttyACM0 --out .*$": (
        lambda c: c.replace("/dev/ttyACM0", "$BRIDGE") + " --duration 650",
        "runs until Ctrl-C: 650 s of the emulated bridge at 100x (cramp_sweep: a cramp for --event 1)"),
    r"^python datasets/make_benchmark\.py$": (
        lambda c: c + " --list", "writes ~43 h / ~2 GB in minutes: --list checks the script and its set"),
    r"^emgpipe bench datasets/benchmark/raw1000 --jobs 2( --wearer)?$": (
        lambda c: c.replace("datasets/benchmark/raw1000", "datasets/sample"),
        "the standard set is not in the repository: the committed sample instead"),
    r"^emgpipe bench datasets/benchmark/raw1000 --workers 2 --cohort-out bench-cohort\.csv$": (
        lambda c: c.replace("datasets/benchmark/raw1000", "datasets/sample"),
        "the standard set is not in the repository: the committed sample instead"),
    r"^python benchmarks/calves_only\.py datasets/everyday$": (
        lambda c: "python benchmarks/calves_only.py datasets/sample --scenarios walk_then_cramp_cyton",
        "the everyday split is not in the repository (make_benchmark.py --everyday makes 2 GB of it): "
        "one recording of the committed sample instead"),
    r"^emgpipe emulate cyton$": (lambda c: c, "runs until Ctrl-C: started by the fixture, its printed port used"),
    r"^emgpipe emulate bridge --press 45$": (
        lambda c: c.replace("--press 45", "--press 0.5") + " --duration 2 --speed 5",
        "runs until Ctrl-C: --duration 2, pressed after 0.5 s"),
    r"^python benchmarks/latency\.py$": (
        lambda c: "python benchmarks/latency.py --seconds 3 || [ $? -eq 3 ]",
        "20 s of real time: --seconds 3; a missed budget (exit 3, after its figures) is a "
        "measurement of this machine under the test suite's load, not a broken example"),
    r"^python benchmarks/soak_night\.py --faults$": (
        lambda c: c + " --kills 1 --only kill9", "about 4 minutes of faults: one kill -9 run of them"),
    r"^python -m emgpipe\._aot_build$": (
        lambda c: c + " --help", "compiles for ~40 s and replaces the installed module: --help shows the command "
        "is there; tests/test_aot.py checks the module the install built"),
    r"^python benchmarks/standing_probe\.py$": (lambda c: c + " --fs 250 --stand 5",
                                                "~8 s of detection at 1 kHz: at 250 Hz, one standing level"),
    r"^python benchmarks/stance_probe\.py$": (lambda c: c + " --fs 250 --stand 5",
                                             "129 recordings of 3 minutes at 1 kHz: at 250 Hz, one standing level"),
    r"^python benchmarks/snr_probe\.py$": (lambda c: c + " --fs 250 --quiet 4 --ratios 3 --seeds 1",
                                           "144 cases (~10 s on two cores): two of them"),
    r"^python benchmarks/ecg_probe\.py$": (lambda c: c + " --fs 250 --amp 40",
                                           "12 cases (~5 s on two cores): the six at 250 Hz and 40 µV"),
    r"^python benchmarks/soak_night\.py$": (lambda c: "python benchmarks/soak_night.py --hours 0.02",
                                            "8 h of signal (~2 min): 72 s of it"),
}


def shell_blocks() -> list[list[str]]:
    """The README's fenced bash blocks, as lists of commands (comments cut)."""
    text = README.read_text(encoding="utf-8")
    blocks = []
    for m in re.finditer(r"```(?:bash|sh|shell)\n(.*?)```", text, re.S):
        lines, cont = [], False
        for ln in m.group(1).splitlines():
            ln = re.sub(r"\s+#\s.*$", "", ln).strip()
            if ln and not ln.startswith("#"):
                if cont:                             # the line before ended with a backslash
                    lines[-1] = lines[-1][:-1].rstrip() + " " + ln
                else:
                    lines.append(ln)
                cont = ln.endswith("\\")
        blocks.append(lines)
    return blocks


def inline_examples() -> list[str]:
    """Commands quoted inline in the README's text."""
    text = re.sub(r"```.*?```", "", README.read_text(encoding="utf-8"), flags=re.S)
    return sorted({m.group(1) for m in re.finditer(r"`((?:emgpipe|python|pip|bash) [^`]*|emgpipe [a-z]+)`", text)})


def plan(cmd: str):
    """('run', cmd) as written, ('bounded', new cmd, why) or ('skip', reason)."""
    for pat, why in NOT_RUN.items():
        if re.match(pat, cmd):
            return ("skip", why)
    for pat, (fn, why) in BOUNDED.items():
        if re.match(pat, cmd):
            return ("bounded", fn(cmd), why)
    return ("run", cmd)


def test_every_example_is_accounted_for():
    blocks = shell_blocks()
    assert len(blocks) >= 6
    examples = [c for b in blocks for c in b] + inline_examples()
    unknown = [c for c in examples if plan(c)[0] == "run" and re.search(r"/dev/tty|COM\d|<\w+>|ganglion:|lsl:", c)]
    assert not unknown, f"README examples that need hardware but have no bounded form here: {unknown}"
    used = {p for p in list(NOT_RUN) + list(BOUNDED) if any(re.match(p, c) for c in examples)}
    stale = set(NOT_RUN) | set(BOUNDED)
    assert used == stale, f"entries for examples no longer in the README: {stale - used}"


# ------------------------------------------------------------------------------------ sandbox

def _wait_line(proc, pattern, timeout=60.0) -> str:
    """The first stdout line of ``proc`` matching ``pattern``."""
    out = []
    done = threading.Event()

    def read():
        for ln in proc.stdout:
            out.append(ln)
            if re.search(pattern, ln):
                done.set()
                return
    threading.Thread(target=read, daemon=True).start()
    assert done.wait(timeout), f"no line matching {pattern!r}: {out}"
    return out[-1].strip()


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory):
    """A temporary working folder and HOME, with both emulators running."""
    root = tmp_path_factory.mktemp("readme")
    home = root / "home"
    home.mkdir()
    env = dict(os.environ, HOME=str(home), XDG_CONFIG_HOME=str(home / ".config"), REPO=str(REPO),
               PYTHONUNBUFFERED="1", PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    env.pop("EMGPIPE_CONFIG", None)
    exe = shutil.which("emgpipe", path=env["PATH"])
    assert exe, "the emgpipe command is not installed next to this Python"
    # the README's commands run from the repository root: its scripts and data are there
    for name in ("datasets", "benchmarks"):
        (root / name).symlink_to(REPO / name)
    procs = []
    try:
        # `emgpipe emulate cyton` as the README says; it prints the port
        cy = subprocess.Popen(["emgpipe", "emulate", "cyton", "--speed", "5", "--link", str(root / "ttyCYTON")],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=root)
        procs.append(cy)
        env["CYTON"] = _wait_line(cy, r"ttyCYTON|/dev/pts").split()[-1] if False else str(root / "ttyCYTON")
        env["BRIDGE"] = str(root / "ttyBRIDGE")        # while the bridge fixture runs
        yield root, env
    finally:
        _stop(procs)


def _stop(procs):
    for p in procs:
        p.terminate()
        try:
            p.wait(10)
        except subprocess.TimeoutExpired:
            p.kill()


@pytest.fixture
def bridge(sandbox):
    """``emgpipe emulate bridge`` at ``$BRIDGE`` for one test: the cramps of cramp_sweep
    (the first 30-70 s in) at 100x. Started per test: at 100x it takes a third of a core,
    which the module's other tests should not pay."""
    root, env = sandbox
    br = subprocess.Popen(["emgpipe", "emulate", "bridge", "--scenario", "cramp_sweep", "--speed", "100",
                           "--link", env["BRIDGE"]],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=root)
    try:
        _wait_line(br, r"ttyBRIDGE|/dev/pts")
        yield env["BRIDGE"]
    finally:
        _stop([br])


def run_block(sandbox, commands, timeout=120, cwd=None, **env_extra):
    """Run commands (already planned) with bash -e in the sandbox (or its folder ``cwd``),
    with ``env_extra`` added to its environment; returns the output."""
    root, env = sandbox
    script = "set -euo pipefail\n" + "\n".join(f"echo {shlex.quote('+ ' + c)} >&2\n{c}" for c in commands)
    p = subprocess.run(["bash", "-c", script], cwd=cwd or root, env={**env, **env_extra}, capture_output=True,
                       text=True, timeout=timeout)
    assert p.returncode == 0, f"README example failed (exit {p.returncode}):\n{p.stderr[-3000:]}\n{p.stdout[-2000:]}"
    return p.stdout, p.stderr


def planned(block):
    out = []
    for c in block:
        kind, *rest = plan(c)
        if kind != "skip":
            out.append(rest[0])
    return out


def _block(word):
    (b,) = [b for b in shell_blocks() if any(word in c for c in b)]
    return b


def test_quick_start_demo_and_calibrate_path(sandbox):
    assert planned(_block("venv")) == []              # not run (NOT_RUN says why) ...
    demo = plan("emgpipe demo")[1]                    # ... but its last step is
    out, err = run_block(sandbox, [demo, "emgpipe demo --fast", "emgpipe calibrate --show-path"])
    assert "CRAMP" in out + err and "profile" in out + err


def test_live_examples_on_the_emulators(sandbox, bridge):
    block = [c for c in planned(_block("emgpipe live")) if "ganglion:" not in c and "lsl:" not in c]
    assert len(block) == 2
    out, err = run_block(sandbox, block)
    assert err.count("duration reached after 2.0 s") == 2, err


def test_label_replay_and_night_examples(sandbox, bridge):
    """simulate -> replay -> label an events CSV; night on the emulated bridge -> report ->
    nights -> label a night's cramp; then the replay examples on the night's raw file, a
    folder and two small recordings (OpenSignals text and CSV) at real speed."""
    root, env = sandbox
    night, label, replays = _block("emgpipe night"), _block("emgpipe label"), _block("emgpipe replay night.edf")
    out, err = run_block(sandbox, planned(night), timeout=180)
    assert "morning report" in out
    out, err = run_block(sandbox, planned(label))
    assert "not_cramp" in (root / "walk.events.csv").read_text()
    # what the replay examples read: night.edf, recordings/, a.txt and b.csv
    edf = sorted((root / "home" / "emg-nights" / "2026-11-21").glob("*.edf"))[0]
    shutil.copy(edf, root / "night.edf")
    (root / "recordings").mkdir()
    subprocess.run(["emgpipe", "simulate", "walk_then_cramp", "--out", str(root / "recordings" / "w.csv"),
                    "--duration", "10"], env=env, check=True, capture_output=True)
    fs, n = 1000, 2000
    rng = np.random.default_rng(0)
    adc = np.clip(2048 + rng.normal(0, 20, n), 0, 4095).astype(int)
    (root / "a.txt").write_text("# Simple Text Format\n# Sampling Rate (Hz):= 1000.00\n# Resolution:= 12\n"
                                "# Labels:= EMG\n" + "\n".join(f"{v}.0" for v in adc) + "\n")
    t = np.arange(n) / fs
    rows = "\n".join(f"{a:.3f},{b:.3f}" for a, b in zip(t, rng.normal(0, 5, n)))
    (root / "b.csv").write_text("time_s,calf_left\n" + rows + "\n")
    t0 = time.monotonic()
    out, err = run_block(sandbox, planned(replays))
    assert time.monotonic() - t0 >= 4.0            # --speed realtime: 2 + 2 s of signal
    assert (root / "night.events.csv").exists() and (root / "events" / "w.events.csv").exists()
    assert (root / "events" / "a.events.csv").exists() and (root / "events" / "b.events.csv").exists()
    # the reports of a folder, after the label block made walk.events.csv
    out, err = run_block(sandbox, planned(_block("emgpipe report events/ --recordings")))
    assert (root / "reports" / "w.report.html").exists() and out.count("report:") >= 2, out


def test_dask_examples(sandbox):
    """The Dask block on a folder of two recordings, in a folder of its own: --workers 4 and 2
    start local clusters; bench on the committed sample."""
    root, env = sandbox
    here = root / "dask-example"
    (here / "nights").mkdir(parents=True)
    (here / "datasets").symlink_to(REPO / "datasets")
    for i in range(2):
        subprocess.run(["emgpipe", "simulate", "walk_then_cramp", "--out", str(here / "nights" / f"n{i}.csv"),
                        "--duration", "12", "--seed", str(i)], env=env, check=True, capture_output=True)
    out, err = run_block(sandbox, planned(_block("--workers 4")), timeout=240, cwd=here)
    assert len((here / "cohort.csv").read_text().splitlines()) == 3      # header and two recordings
    assert (here / "bench-cohort.csv").exists() and (here / "events" / "index.html").exists()


def test_simulate_bench_and_benchmark_scripts(sandbox):
    root, env = sandbox
    out, err = run_block(sandbox, planned(_block("simulate --list")), timeout=180)
    assert (root / "sim" / "walk.csv").exists() and list((root / "sim").glob("*.png"))
    out, err = run_block(sandbox, planned(_block("benchmarks/alerts.py")))
    assert (root / "build" / "alerts.json").exists() and "changes:" in out


#: Each README block that runs at least one command, and the test that runs it (a word of
#: the block finds it); the blocks that run nothing are in NOT_RUN.
BLOCK_TESTS = {
    "emgpipe live": test_live_examples_on_the_emulators,
    "emgpipe label": test_label_replay_and_night_examples,
    "emgpipe night": test_label_replay_and_night_examples,
    "emgpipe replay night.edf": test_label_replay_and_night_examples,
    "emgpipe report events/ --recordings": test_label_replay_and_night_examples,
    "--workers 4": test_dask_examples,
    "simulate --list": test_simulate_bench_and_benchmark_scripts,
    "benchmarks/alerts.py": test_simulate_bench_and_benchmark_scripts,
}


def test_every_block_is_run_by_a_test():
    for block in shell_blocks():
        runs = planned(block)
        words = [w for w in BLOCK_TESTS if any(w in c for c in block)]
        if runs:
            assert len(words) == 1, f"README block {block} is run by no test here (or by several): {words}"
        else:
            assert not words, f"README block {block} runs nothing but is listed in BLOCK_TESTS"


def test_inline_examples(sandbox):
    """Inline commands: emulate bridge with a press (bounded), the benchmark scripts (short)."""
    cmds = [plan(c) for c in inline_examples()]
    run = [p[1] for p in cmds if p[0] in ("run", "bounded") and not p[1].startswith(("emgpipe emulate cyton",
                                                                                    "emgpipe demo"))]
    out, err = run_block(sandbox, run, timeout=240)
    assert "soak:" in out and "kill -9: 1 runs" in out


def test_ganglion_example(sandbox, monkeypatch, capsys):
    """``emgpipe live --source ganglion: --duration 600 --events-out today.events.csv`` with
    bleak faked at its API (a Ganglion streaming fast), for --duration 3; it says where the
    events file went."""
    import types

    from emgpipe.cli import main
    from emgpipe.devices.ganglion.emulator import GanglionEmulator, ble_api
    from tests.devices.openbci_fakes import exact_fw2_counts
    root, env = sandbox
    counts = exact_fw2_counts(4000, np.random.default_rng(3))
    dev = GanglionEmulator(counts, fw=3, bits=19, packets_per_s=2000)
    scanner, client = ble_api(dev)
    monkeypatch.setitem(sys.modules, "bleak", types.SimpleNamespace(BleakScanner=scanner, BleakClient=client))
    monkeypatch.chdir(root)
    example = "emgpipe live --source ganglion: --duration 600 --events-out today.events.csv"
    assert example in [c for b in shell_blocks() for c in b]
    argv = example.split()[1:]
    argv[argv.index("600")] = "3"
    assert main(argv) == 0
    err = capsys.readouterr().err
    where = str(root / "today.events.csv")
    assert f"events file {where}" in err and f"events written to {where}" in err
    assert (root / "today.events.csv").read_text().startswith("kind,channel,start_s")


def test_lsl_emulator_example(sandbox, monkeypatch, capsys):
    """``emgpipe emulate lsl`` (a subprocess, bounded) read by ``emgpipe live --source
    lsl:emgpipe-emulator`` (in process, --duration 2), both under a stream name of this test's own."""
    pytest.importorskip("pylsl")
    from emgpipe.cli import main
    root, env = sandbox
    inline = inline_examples()
    emulate, live = "emgpipe emulate lsl", "emgpipe live --source lsl:emgpipe-emulator"
    assert emulate in inline and live in inline
    name = f"readme-emulator-{os.getpid()}"
    emu = subprocess.Popen(shlex.split(emulate) + ["--name", name, "--duration", "60"], cwd=root,
                           env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        monkeypatch.chdir(root)
        argv = live.replace("lsl:emgpipe-emulator", f"lsl:{name}").split()[1:]
        assert main(argv + ["--duration", "2", "--no-ui"]) == 0
    finally:
        emu.terminate()
        emu.communicate(timeout=10)
    assert "duration reached after 2.0 s" in capsys.readouterr().err


def test_lsl_example(sandbox, monkeypatch, capsys):
    """``emgpipe live --source lsl:MyEMG --lsl-out`` against a real LSL outlet, --duration 2."""
    pylsl = pytest.importorskip("pylsl")
    from emgpipe.cli import main
    root, env = sandbox
    info = pylsl.StreamInfo("MyEMG", "EMG", 2, 500, "float32", "readme-test")
    outlet = pylsl.StreamOutlet(info)
    stop = threading.Event()

    def push():
        rng = np.random.default_rng(0)
        while not stop.is_set():
            outlet.push_chunk(rng.normal(0, 10, (25, 2)).tolist())
            time.sleep(0.05)
    th = threading.Thread(target=push, daemon=True)
    th.start()
    try:
        example = "emgpipe live --source lsl:MyEMG --lsl-out"
        assert example in [c for b in shell_blocks() for c in b]
        monkeypatch.chdir(root)
        assert main(example.split()[1:] + ["--duration", "2"]) == 0
    finally:
        stop.set()
        th.join(5)
    assert "duration reached after 2.0 s" in capsys.readouterr().err
