"""Stretch alerts: one prompt at cramp onset, one reminder if it lasts, never a repeat.

Plugging it into a command::

    from emgpipe.alerts import add_alert_arguments, build_alert_manager

    add_alert_arguments(parser)                      # in register()
    alerts = build_alert_manager(args, bridge=src)   # src: for the haptic sink
    pipeline.events.sink(alerts.on_event)
    for chunk in src:
        pipeline.push(chunk)
        alerts.tick(chunk.end_s)                     # reminders follow stream time
    pipeline.close()
    alerts.close()

Sinks (:mod:`.sinks`): terminal (with bell), sound (a tone made locally),
desktop notification, haptic buzz through the firmware bridge, webhook (JSON
POST), run-a-command, or any callable. Each runs on its own thread behind a
keep-latest slot per cramp, so a slow or hanging sink never delays detection or the
other sinks (:mod:`.manager`). Prompts in plain words per muscle:
:func:`~.prompts.stretch_prompt`. Options and the TOML file: :mod:`.config`.

emgpipe is not a medical device: an alert suggests a stretch; it does not
diagnose anything.
"""
from .config import add_alert_arguments, build_alert_manager, build_sinks, load_config
from .manager import AlertManager, SinkWorker
from .prompts import Alert, make_alert, muscle_of, side_of, stretch_prompt
from .sinks import (CallbackSink, CommandSink, DesktopSink, HapticSink, Sink, SoundSink,
                    TerminalSink, WebhookSink)

__all__ = ["AlertManager", "SinkWorker", "Alert", "make_alert", "muscle_of", "side_of",
           "stretch_prompt", "add_alert_arguments", "build_alert_manager", "build_sinks",
           "load_config", "Sink", "TerminalSink", "SoundSink", "DesktopSink", "HapticSink",
           "WebhookSink", "CommandSink", "CallbackSink"]
