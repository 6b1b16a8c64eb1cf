"""The public API (issue 14 part 7): the README's Python example runs as written, and the
commands are thin layers over the same calls."""
from __future__ import annotations

import csv
import re
from pathlib import Path

import emgpipe

README = Path(__file__).resolve().parents[1] / "README.md"


def readme_api_example() -> str:
    text = README.read_text(encoding="utf-8")
    section = text.split("## Using emgpipe from Python", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```python\n(.*?)```", section, re.S)
    assert len(blocks) == 1, "the API section has one Python example"
    return blocks[0]


def test_readme_api_example_runs(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path))           # answers.json, if any, lands here
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / ".config"))
    namespace: dict = {}
    exec(compile(readme_api_example(), "README.md", "exec"), namespace)
    out = capsys.readouterr().out
    # the simulation puts a cramp on the right calf (emgpipe demo's scenario and seed)
    assert re.search(r"^cramp on calf_right from \d+\.\d s, alert at \d+\.\d s$", out, re.M), out
    cramps = namespace["cramps"]
    assert len(cramps) == 1 and cramps[0].alert_s - cramps[0].start_s < 5
    with open(tmp_path / "walk.events.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [r["channel"] for r in rows if r["kind"] == "cramp"] == ["calf_right"]
    assert namespace["pipeline"].n_samples == 75 * 1000        # the whole simulation went through


def test_session_tears_the_pipeline_down():
    from streamz.sinks import _global_sinks
    src = emgpipe.open_source("sim:walk_then_cramp?speed=max&seed=2&duration=12")
    before = len(_global_sinks)
    with src:
        p = emgpipe.build_pipeline(src)
        p.events.sink(lambda e: None)
        s = emgpipe.Session(src, p, alert_args=None)
        assert s.mode == "awake" and p.mode == "awake"
        s.run()
    assert len(_global_sinks) == before and p.n_samples > 0


def test_session_refuses_pipeline_options_with_a_pipeline():
    import pytest
    src = emgpipe.open_source("sim:walk_then_cramp?speed=max&duration=12")
    with src:
        p = emgpipe.build_pipeline(src)
        with pytest.raises(ValueError, match="pass them to build_pipeline"):
            emgpipe.Session(src, p, mode="sleep")
        p.destroy()


def test_the_commands_build_pipelines_one_way(monkeypatch, tmp_path):
    """replay, live, night and bench all go through build_pipeline (demo and calibrate too:
    tests/commands)."""
    import emgpipe.pipeline as pipeline
    from emgpipe.cli import main
    from emgpipe import sim

    calls = []
    real = pipeline.build_pipeline

    def spy(source=None, **kw):
        calls.append(kw.get("mode"))
        return real(source, **kw)
    monkeypatch.setattr(pipeline, "build_pipeline", spy)
    # the kernels' warm-up before a device opens builds its own pipelines (through
    # build_pipeline too): counted apart, once per live and night
    prepared = []
    monkeypatch.setattr(pipeline, "prepare_kernels", lambda *a, **k: prepared.append(calls[:]) or 0.0)
    rec = sim.write(sim.make("walk_then_cramp", seed=2, duration=12), tmp_path / "w.csv")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "cfg"))
    assert main(["replay", str(rec), "--events-out", str(tmp_path / "w.events.csv")]) == 0
    assert main(["live", "--source", f"file:{rec}", "--speed", "max", "--no-ui", "--alert", "none"]) == 0
    assert main(["night", "--source", f"file:{rec}", "--speed", "max", "--out", str(tmp_path / "n")]) == 0
    assert main(["bench", str(tmp_path)]) == 0
    assert len(calls) == 4, calls
    assert [len(c) for c in prepared] == [1, 2]      # before live's pipeline, before night's
