"""A pipeline computes the window features its detectors read (and the level its
other consumers show), not all of them: a replay skips the spectra (issue 15).
The events must not change, and the detector must read nothing it did not declare."""
from __future__ import annotations

import numpy as np
import pytest

from emgpipe.detect.cramp import CrampDetector
from emgpipe.dsp import _kernels
from emgpipe.dsp.features import ALL_FEATURES, FeatureSettings, compute_features_segment
from emgpipe.graph import CONSUMER_FEATURES, Pipeline, features_needed
from emgpipe.pipeline import build_pipeline, replay_features, run_recording
from emgpipe.sim import make


def test_a_pipeline_computes_what_its_detectors_read():
    p = build_pipeline(mode="sleep")
    try:
        names = p.window_features.settings.features.names
        assert set(names) == set(CrampDetector.features) | set(CONSUMER_FEATURES)
        assert "mnf" not in names and "mdf" not in names and "rms" in names
        assert p.feature_names == replay_features(p.model)
    finally:
        p.destroy()
    # no detectors (a pipeline run for its features), or asked for: every feature
    for p in (Pipeline(), Pipeline(detectors=p.detectors, features="all")):
        try:
            assert p.window_features.settings.features.names == ALL_FEATURES and p.feature_names is None
        finally:
            p.destroy()


def test_a_detector_that_does_not_say_gets_every_feature():
    class Mute:
        def update(self, features):
            return []

    assert features_needed([Mute()]) is None
    assert features_needed([CrampDetector]) == tuple(sorted({*CrampDetector.features, "rms"}))


class _Strict(dict):
    """Feature values that fail on a name the detector did not declare."""

    def __getitem__(self, key):
        assert key in CrampDetector.features, f"the detector read {key!r} without declaring it"
        return super().__getitem__(key)

    def get(self, key, default=None):
        assert key in CrampDetector.features, f"the detector read {key!r} without declaring it"
        return super().get(key, default)


@pytest.mark.parametrize("scenario,mode,fs", [("weak_cramps_sleep", "sleep", 1000),
                                              ("walk_then_cramp", "awake", 250)])
def test_same_events_as_with_every_feature_and_nothing_undeclared_is_read(scenario, mode, fs):
    rec = make(scenario, fs=fs, seed=4, duration=240).to_recording()

    def events(features, strict=False):
        p = build_pipeline(rec, mode=mode)
        if features == "all":
            p = Pipeline(p.model, mode=mode, detectors=p.detectors, signal=p.signal, features="all")
        if strict:
            for d in p.detectors:
                update = d.update
                d.update = lambda f, update=update: update(f.__class__(**{**f.__dict__,
                                                                          "values": _Strict(f.values)}))
        try:
            return [(e.kind, e.channel, e.start_s, e.end_s, e.alert_s, e.n_potentials)
                    for e in run_recording(rec, pipeline=p).events]
        finally:
            p.destroy()

    needed = events("needed", strict=True)
    assert needed == events("all")
    kinds = {k for k, *_ in needed}
    assert "cramp" in kinds and (fs < 500 or "fasciculation" in kinds)


@pytest.mark.skipif(not _kernels.COMPILED, reason="the compiled path (the numpy path has its own test)")
@pytest.mark.parametrize("left_out", [("mnf", "mdf"), ("wl", "zc", "ssc", "tke"),
                                      ("mnf", "mdf", "wl", "zc", "ssc", "tke", "mav", "spikes")])
def test_without_spectra_or_pair_terms_the_others_are_the_same_bit_for_bit(left_out):
    """No spectra without mnf/mdf, only the moments of each block (block_sums, pairs=False) without
    wl/zc/ssc/tke: the features still asked for do not change."""
    x = np.random.default_rng(1).normal(0, 10, (20_000, 3))
    every = compute_features_segment(x, 250, 125, 1000.0, FeatureSettings(zc_threshold_uv=0.5))
    some = compute_features_segment(x, 250, 125, 1000.0, FeatureSettings(
        names=tuple(n for n in ALL_FEATURES if n not in left_out), zc_threshold_uv=0.5))
    assert set(every) - set(some) == set(left_out)
    for name, v in some.items():
        np.testing.assert_array_equal(v, every[name], err_msg=name)
    assert every["mnf"].min() > 0 and every["zc"].min() > 0
