"""The firmware_bridge button: BUTTON frames decoded, from the emulator through the real
``bridge:`` source (pty) to the live session, where a short press answers "not a cramp"."""
from __future__ import annotations

import pytest

from emgpipe.answers import load_answers
from emgpipe.devices.bridge import protocol as P
from emgpipe.devices.bridge.emulator import DeviceModel, parse_presses
from emgpipe.devices.bridge.source import BridgeSerialSource
from emgpipe.errors import UsageError
from emgpipe.io.events_csv import read_events
from tests.devices.bridge.bridge_helpers import collect

FAST = {"backoff": (0.05, 0.1, 0.2), "handshake": 2.0}


def test_button_frame_round_trip_and_answers():
    dec = P.FrameDecoder()
    frames = dec.feed(P.encode_button(9, P.Press.SHORT, 180, 4321) + P.encode_button(10, P.Press.LONG, 1000, 2**32 - 1)
                      + P.encode_button(11, 7, 5, 0))
    assert [(f.type, f.seq, f.press, f.held_ms, f.sample, f.answer) for f in frames] == [
        (P.FrameType.BUTTON, 9, 1, 180, 4321, "not_cramp"), (P.FrameType.BUTTON, 10, 2, 1000, 2**32 - 1, "cramp"),
        (P.FrameType.BUTTON, 11, 7, 5, 0, None)]
    short = P.cobs_decode(P.encode_button(1, 1, 1, 1)[1:-1])
    assert P.parse_body(short[:-3] + P.crc16(short[:-3]).to_bytes(2, "little")) == P.FrameError.LENGTH


def test_emulator_model_sends_a_press_with_the_next_poll():
    m = DeviceModel(fs=1000, sensors=1, env=False)
    m.press_button()
    m.press_button(long=True)
    got = [f for f in P.FrameDecoder().feed(b"".join(m.poll())) if isinstance(f, P.ButtonFrame)]
    assert [(f.answer, f.held_ms) for f in got] == [("not_cramp", 200), ("cramp", 1000)]
    again = P.FrameDecoder().feed(b"".join(m.poll()))
    assert not any(isinstance(f, P.ButtonFrame) for f in again)    # each press is sent once
    assert parse_presses(["3", "1.5:long"]) == [(1.5, True), (3.0, False)]
    with pytest.raises(UsageError, match="--press 'x'"):
        parse_presses(["x"])


def test_source_hands_button_presses_to_its_listeners(emulator):
    emu = emulator(fs=1000, sensors=1, env=False, speed=5.0)
    src = BridgeSerialSource(emu.path, **FAST)
    src.open()
    heard = []
    src.answer_listeners.append(heard.append)
    try:
        collect(src, 200)
        emu.press_button()
        emu.press_button(long=True)
        collect(src, 10**9, until=lambda _: len(heard) >= 2)
    finally:
        src.close()
    assert [(h["answer"], h["source"], h["press"]) for h in heard] == [("not_cramp", "button", 1),
                                                                      ("cramp", "button", 2)]
    assert src.counters()["button_presses"] == 2 and src.counters()["bad_frames"] == 0


def test_short_press_in_a_live_session_answers_the_cramp_alert(emulator, tmp_path, capsys):
    from emgpipe.commands.emulate import ScenarioSignal
    from emgpipe.session import Session
    sig = ScenarioSignal("walk_then_cramp", 1000, 2, seed=2, device="raw")
    emu = emulator(sig.read, fs=1000, sensors=2, env=False, speed=20.0)
    src = BridgeSerialSource(emu.path, names=tuple(sig.ch_names), **FAST)
    src.open()
    pressed = []

    def on_alert(alert, event):         # the wearer feels the buzz and presses the button
        if alert.kind == "onset" and not pressed:
            pressed.append(event.channel)
            emu.press_button()
    try:
        session = Session(src, mode="awake", events_out=tmp_path / "ev.csv", ui=False,
                          duration_s=sig.sim.duration_s - 2, on_alert=on_alert,
                          answers_path=tmp_path / "answers.json")
        session.run()
    finally:
        src.close()
    assert pressed, "no cramp alert"
    cramps = [e for e in read_events(tmp_path / "ev.csv") if e.kind == "cramp"]
    assert [(e.channel, e.label) for e in cramps] == [(pressed[0], "not_cramp")]
    assert [a.kind for a in session.alerts.alerts] == ["onset"]
    [rec] = load_answers(tmp_path / "answers.json")
    assert (rec["answer"], rec["source"], rec["channel"]) == ("not_cramp", "button", pressed[0])
