#!/usr/bin/env python3
"""Copy the frame codec (src/emgframe.h, src/emgframe.c) into each sketch's src/ folder.

The Arduino IDE only compiles files inside the sketch folder (and its src/
subfolder), so each sketch carries a copy. Edit firmware_bridge/src/ only,
then run this script; ``--check`` exits 1 if a copy differs (the test suite
runs it).
"""
from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parents[1]
CORE = ("emgframe.h", "emgframe.c")
SKETCHES = ("bridge_avr", "bridge_esp32")


def stale() -> list[Path]:
    out = []
    for sketch in SKETCHES:
        for name in CORE:
            dst = HERE / sketch / "src" / name
            if not dst.exists() or dst.read_bytes() != (HERE / "src" / name).read_bytes():
                out.append(dst)
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="only report stale copies")
    args = ap.parse_args(argv)
    todo = stale()
    if args.check:
        for p in todo:
            print(f"stale copy: {p.relative_to(HERE)} (run tools/sync_core.py)", file=sys.stderr)
        return 1 if todo else 0
    for dst in todo:
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(HERE / "src" / dst.name, dst)
        print(f"updated {dst.relative_to(HERE)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
