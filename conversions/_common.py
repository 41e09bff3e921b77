"""The one entry point every converter script shares: argparse over `pipeline.launch.convert`."""

from __future__ import annotations

import argparse
import json
import sys


def main(reader: str, writer: str, description: str) -> int:
    from embodied_rerender.pipeline.launch import convert

    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("input", help=f"{reader} dataset to read")
    parser.add_argument("output", help=f"{writer} dataset to write (appears only when complete)")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing output")
    parser.add_argument("--option", action="append", default=[], metavar="KEY=VALUE",
                        help=f"a {writer} writer option (JSON value), e.g. copy_videos=false; repeatable")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    args = parser.parse_args()
    options = {}
    for item in args.option:
        key, _, value = item.partition("=")
        try:
            options[key] = json.loads(value)
        except ValueError:
            options[key] = value
    report = convert(args.input, args.output, writer, reader, options, args.overwrite, not args.quiet)
    print(report.summary_line())
    print("\n".join(report.skip_lines()))
    return 2 if report.skipped else 0


if __name__ == "__main__":
    sys.exit("run one of the converter scripts beside this file")
