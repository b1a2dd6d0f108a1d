"""``python -m parlay_emulators.google --port 8201 [--host H] [--account EMAIL ...]``."""

from __future__ import annotations

import argparse

import uvicorn

from .app import create_app
from .store import Client, Store


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m parlay_emulators.google")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8201)
    parser.add_argument("--account", action="append", default=[], help="seed an account (repeat)")
    parser.add_argument("--client-id", help="accept only this OAuth client")
    parser.add_argument("--client-secret")
    args = parser.parse_args(argv)
    store = Store()
    for email in args.account:
        store.add_account(email)
    if args.client_id:
        store.clients[args.client_id] = Client(args.client_id, args.client_secret)
    uvicorn.run(create_app(store), host=args.host, port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
