"""``python -m parlay_emulators.microsoft --port P [--host H] [--account EMAIL ...]``."""

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
    parser.add_argument("--port", type=int, default=8202)
    parser.add_argument(
        "--account",
        action="append",
        default=[],
        metavar="EMAIL",
        help="seed a personal account (repeat)",
    )
    args = parser.parse_args(argv)
    store = Store()
    for email in args.account:
        store.add_account(email, mail=email)
    uvicorn.run(create_app(store), host=args.host, port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
