"""`python -m ministack.compute.guestimage [--out DIR]`: build the test image, print its path."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ministack.compute.guestimage import DEFAULT_CACHE_DIR, GuestImageError, build_test_image


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m ministack.compute.guestimage",
        description="Build (or reuse) the ministack-test guest image and print its path.",
    )
    parser.add_argument(
        "--out",
        metavar="DIR",
        type=Path,
        default=DEFAULT_CACHE_DIR,
        help=f"cache and output directory (default: {DEFAULT_CACHE_DIR})",
    )
    args = parser.parse_args(argv)
    try:
        image = build_test_image(args.out)
    except GuestImageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(image)
    return 0


if __name__ == "__main__":
    sys.exit(main())
