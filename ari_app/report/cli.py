"""``ari-app report daily|monthly|attendance|attendance-monthly|qa``: figures, attendance, the QA sample.

Exit codes: 0 done, 2 usage error, a bad config or an unreadable store.
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

__all__ = ["report_cli"]


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="ari-app report",
        description="Figures (R-KPI), attendance (R-SHIFT) and the QA sample (R-QA), read from the store.")
    p.add_argument("kind", choices=("daily", "monthly", "attendance", "attendance-monthly", "qa"))
    p.add_argument("--config", "-c", required=True, help="the service's TOML config (store, queues, roster)")
    p.add_argument("--date", help="daily: the day YYYY-MM-DD (default today); attendance: the first day")
    p.add_argument("--to", help="attendance: the last day YYYY-MM-DD (default: --date)")
    p.add_argument("--month", help="monthly, attendance-monthly, qa: the month YYYY-MM (default this month)")
    p.add_argument("--queue", help="only this queue")
    p.add_argument("--agent", help="only this agent")
    p.add_argument("--format", choices=("table", "csv", "png"), default="table")
    p.add_argument("--out", "-o", help="write to this file (png: default report-<period>.png)")
    p.add_argument("--per-agent", type=int, help="qa: random calls per agent (default [reports] qa_per_agent)")
    p.add_argument("--seed", type=int, default=0, help="qa: the random seed (same seed, same sample)")
    return p


def report_cli(argv: list[str]) -> int:
    from .. import config as config_mod
    from ..store.base import StoreError, open_store
    from . import attendance_report, daily, monthly, qa_report, render

    try:
        args = _parser().parse_args(argv)
    except SystemExit as e:
        return 0 if e.code in (0, None) else 2

    def usage(message: str) -> int:
        print(f"ari-app report: {message}", file=sys.stderr)
        return 2

    try:
        cfg = config_mod.load(args.config)
    except (config_mod.ConfigError, OSError) as e:
        return usage(str(e))
    tz = cfg.reports.timezone
    today = datetime.now(ZoneInfo(tz)).date()
    if args.queue and args.queue not in cfg.queues:
        return usage(f"--queue {args.queue!r}: not a queue of the config ({', '.join(sorted(cfg.queues))})")
    if args.format == "png" and args.kind not in ("daily", "monthly"):
        return usage("--format png: only for daily and monthly")
    try:
        store = open_store(cfg.store_url)
    except StoreError as e:
        return usage(str(e))
    try:
        if args.kind in ("daily", "monthly"):
            make = daily if args.kind == "daily" else monthly
            when = (args.date or today.isoformat()) if args.kind == "daily" else (
                args.month or today.strftime("%Y-%m"))
            report = make(store, cfg, when, queue=args.queue, agent=args.agent)
            if args.format == "png":
                from .chart import ChartError, save_png

                path = args.out or f"report-{report.label}.png"
                try:
                    save_png(report, path)
                except ChartError as e:
                    return usage(str(e))
                print(path)
                return 0
            text = render.table(report) if args.format == "table" else render.csv_text(report)
        elif args.kind == "attendance":
            first = date.fromisoformat(args.date) if args.date else today
            last = date.fromisoformat(args.to) if args.to else first
            if last < first or last - first > timedelta(days=366):
                return usage("--to: must be on or after --date, within a year")
            rows = attendance_report(store, cfg, first, last, now=time.time(), agent=args.agent)
            text = render.attendance_table(rows, tz) if args.format == "table" else render.attendance_csv(rows)
        elif args.kind == "attendance-monthly":  # R-SHIFT: the seed's 事假 / 旷工 per agent (issue 18)
            from .attendance_month import attendance_month, month_csv, month_table

            month = args.month or today.strftime("%Y-%m")
            summaries = attendance_month(store, cfg, month, now=time.time(), agent=args.agent)
            text = month_table(summaries, month) if args.format == "table" else month_csv(summaries)
        else:
            month = args.month or today.strftime("%Y-%m")
            per_agent = cfg.reports.qa_per_agent if args.per_agent is None else args.per_agent
            if per_agent < 0:
                return usage("--per-agent: must be >= 0")
            entries = qa_report(store, cfg, month, per_agent=per_agent, seed=args.seed, agent=args.agent)
            text = render.qa_table(entries, tz) if args.format == "table" else render.qa_csv(entries)
    except ValueError as e:  # a malformed --date/--month
        return usage(str(e))
    finally:
        store.close()
    if args.out:
        with open(args.out, "w", encoding="utf-8") as f:
            f.write(text)
    else:
        sys.stdout.write(text)
    return 0
