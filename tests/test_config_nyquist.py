"""Issue 16 part 2: a band-pass above the stream's Nyquist frequency is a config error."""
from __future__ import annotations


def test_band_above_the_streams_nyquist_is_one_config_line(tmp_path, capsys):
    """A model whose band-pass starts above the stream's Nyquist frequency: one line naming the
    key and the rate (was an internal error with streamz's traceback)."""
    from emgpipe import sim
    from emgpipe.cli import main
    rec = sim.write(sim.make("walk_then_cramp", seed=1, duration=20, device="cyton"), tmp_path / "w.csv")
    m = tmp_path / "m.toml"
    m.write_text('[model]\nname = "x"\nversion = "1"\n[filters]\nbandpass_low_hz = 200\n')
    code = main(["replay", str(rec), "--events-out", str(tmp_path / "e.csv"), "--model", str(m)])
    err = capsys.readouterr().err
    assert code != 0 and "internal error" not in err and "Traceback" not in err
    [line] = err.strip().splitlines()
    assert "bandpass_low_hz = 200" in line and "Nyquist" in line and "250 Hz" in line
