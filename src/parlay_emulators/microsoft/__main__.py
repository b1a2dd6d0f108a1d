"""``python -m parlay_emulators.microsoft --port P [--host H] [--seed EMAIL ...]``."""

from __future__ import annotations

import argparse

import uvicorn

from .app import create_app
from .store import Store


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m parlay_emulators.microsoft", description=__doc__
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8302)
    parser.add_argument(
        "--seed",
        action="append",
        default=[],
        metavar="EMAIL",
        help="a personal account to create at start",
    )
    args = parser.parse_args(argv)
    store = Store()
    for email in args.seed:
        store.add_account(email, mail=email)
    uvicorn.run(create_app(store), host=args.host, port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
