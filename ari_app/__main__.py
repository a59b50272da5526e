"""The ``ari-app`` command: ``ari-app run --config FILE`` and ``ari-app check-config FILE``."""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys


from . import config as config_mod

__all__ = ["main"]


def _run(path: str, log_format: str = "json") -> int:
    from .app import Service
    from .events.logging import configure
    from .store.base import StoreError, open_store

    cfg = config_mod.load(path)
    # JSON lines always (also in a terminal: the README's jq recipes), unless asked otherwise
    configure(cfg.service.log_level, json=log_format == "json")
    import structlog

    log = structlog.get_logger()

    async def go() -> None:
        task = asyncio.current_task()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, task.cancel)  # type: ignore[union-attr]
        try:
            store = open_store(cfg.store_url)
        except StoreError as e:
            log.error("store.open_failed", error=str(e))
            raise SystemExit(f"ari-app: {e}") from None
        try:
            await Service(cfg, store=store).run()
        finally:
            store.close()

    try:
        asyncio.run(go())
    except (asyncio.CancelledError, KeyboardInterrupt):
        pass
    return 0


def _pin_hash(argv: list[str]) -> int:
    """``ari-app pin-hash``: the PIN typed at a prompt (not echoed), or ``--stdin``: one line read from standard
    input (scripts). Never on the command line (issue 17: ps and the shell's history show it to others)."""
    import getpass

    from .core.login import MIN_PIN_LENGTH, hash_pin

    if argv == ["--stdin"]:
        pin = sys.stdin.readline().rstrip("\r\n")
    elif not argv:
        try:
            pin = getpass.getpass(f"PIN ({MIN_PIN_LENGTH}-12 digits): ")
        except (EOFError, KeyboardInterrupt):
            print("pin-hash: no PIN typed", file=sys.stderr)
            return 2
    else:
        print("usage: ari-app pin-hash [--stdin]\n"
              "pin-hash: the PIN is typed at the prompt, or read from standard input with --stdin; never given "
              "as an argument (other users see a command line in ps, and the shell keeps it in its history)",
              file=sys.stderr)
        return 2
    try:
        print(hash_pin(pin))
    except ValueError as e:
        print(f"pin-hash: {e}", file=sys.stderr)
        return 2
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["pbx-render"]:  # issue 15: the dialplan's numbers, rendered as the Asterisk image does
        from .pbx_site import main as pbx_site_main

        return pbx_site_main(["render", *argv[1:]], prog="ari-app pbx-render")
    if argv[:1] == ["report"]:  # R-KPI, R-SHIFT, R-QA
        from .report.cli import report_cli

        return report_cli(argv[1:])
    if argv[:1] == ["health"]:  # issue 15: readiness, for container healthchecks
        from .api._cli import health_cli

        return health_cli(argv[1:])
    if argv[:1] in (["agent"], ["token"], ["pin-hash"], ["callbacks"], ["followups"], ["roster"]):
        from .api import agent_cli, callbacks_cli, followups_cli, roster_cli, token_cli

        return {"agent": agent_cli, "token": token_cli, "pin-hash": _pin_hash, "callbacks": callbacks_cli,
                "followups": followups_cli, "roster": roster_cli}[argv[0]](argv[1:])
    parser = argparse.ArgumentParser(prog="ari-app", description="Call-center controller for Asterisk (ARI).")
    parser.epilog = ("more: 'ari-app agent login|logout|pause|resume|list' (the HTTP API), "
                     "'ari-app callbacks list|close|reopen|reassign', 'ari-app followups import FILE --team T', "
                     "'ari-app roster leave list|add|cancel', 'ari-app roster duty' (callbacks and leave), "
                     "'ari-app report daily|monthly|attendance|qa' (figures, attendance, QA sample), "
                     "'ari-app pbx-render --config FILE --out FILE' (the dialplan's numbers), "
                     "'ari-app token new' (an API token), 'ari-app pin-hash [--stdin]' (an agent's PIN for the config), "
                     "'ari-app health [--url URL]' (is the service ready? exit 0 or 1)")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run the service")
    run.add_argument("--config", "-c", required=True, help="TOML config file")
    run.add_argument("--log-format", choices=("json", "console"), default="json",
                     help="json: one JSON object a line (default, also in a terminal); console: coloured, for people")
    check = sub.add_parser("check-config", help="validate a config file and exit")
    check.add_argument("file")
    args = parser.parse_args(argv)
    try:
        if args.command == "check-config":
            cfg = config_mod.load(args.file)  # also loads and checks the roster file of [callbacks]
            summary = f"{len(cfg.queues)} queues, {len(cfg.agents)} agents"
            if cfg.callbacks is not None:  # R-VM-RR, R-LEAVE
                source = f"roster {cfg.callbacks.roster}" if cfg.callbacks.roster else "default roster"
                summary += (f"; callbacks: {cfg.callbacks.rules.mode} mode, {len(cfg.callbacks.teams)} teams "
                            f"({source})")
            if cfg.trunk is not None:
                summary += f"; trunk {cfg.trunk.dial}"
            print(f"{args.file}: ok ({summary})")
            return 0
        return _run(args.config, args.log_format)
    except config_mod.ConfigError as e:
        print(e, file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
