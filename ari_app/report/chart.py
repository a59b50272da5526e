"""The report as a chart (R-KPI): calls as bars, rates as lines, Chinese and English labels.

matplotlib with the Agg backend (no display). The labels need a font with
CJK glyphs: the first installed of ``CJK_FONTS`` (Debian:
``fonts-wqy-microhei`` or ``fonts-noto-cjk``); without one the chart is
refused with a clear error rather than drawn with empty boxes.
"""

from __future__ import annotations

from typing import Any

from . import Report, Row

__all__ = ["CJK_FONTS", "ChartError", "figure", "save_png"]

CJK_FONTS = ("WenQuanYi Micro Hei", "Noto Sans CJK SC", "Noto Sans CJK JP", "Droid Sans Fallback")


class ChartError(RuntimeError):
    pass


def _cjk_font() -> str:
    from matplotlib import font_manager

    installed = {f.name for f in font_manager.fontManager.ttflist}
    for name in CJK_FONTS:
        if name in installed:
            return name
    raise ChartError("no font with Chinese glyphs is installed: install fonts-wqy-microhei (Debian) "
                     f"or one of {', '.join(CJK_FONTS)}")


def figure(report: Report) -> Any:
    """A matplotlib Figure: per queue/agent (daily) or per day of the month (monthly)."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure
    from matplotlib.ticker import PercentFormatter

    font = _cjk_font()
    rows: list[Row] = report.by_day if report.kind == "monthly" else [r for r in report.rows if r.kind != "total"]
    names = [r.name for r in rows]
    x = list(range(len(rows)))
    fig = Figure(figsize=(max(7.0, 0.4 * len(rows) + 3), 5.2), dpi=100)
    # concrete family names (not the generic "sans-serif"), so the texts keep the CJK font when drawn later
    with matplotlib.rc_context({"font.family": [font, "DejaVu Sans"], "axes.unicode_minus": False}):
        ax = fig.add_subplot()
        width = 0.27
        series = (("offered", "Offered 呼入量", "#4C72B0"), ("answered", "Answered 接通量", "#55A868"),
                  ("abandoned", "Abandoned 放弃量", "#C44E52"))
        for i, (attr, label, color) in enumerate(series):
            ax.bar([v + (i - 1) * width for v in x], [getattr(r.figures, attr) for r in rows], width,
                   label=label, color=color)
        ax.set_xticks(x, names)
        ax.set_xlabel("Day of month 日" if report.kind == "monthly" else "Queue or agent 队列/坐席")
        ax.set_ylabel("Calls 通话数 (calls)")
        ax2 = ax.twinx()
        for attr, label, style in (("answer_rate", "Answer rate 接通率", "o-"),
                                   ("service_level", "Service level 及时应答率", "s--")):
            values = [getattr(r.figures, attr) for r in rows]
            ax2.plot(x, [float("nan") if v is None else 100 * v for v in values], style, label=label,
                     color="#333333" if attr == "answer_rate" else "#DD8452")
        ax2.set_ylim(0, 105)
        ax2.set_ylabel("Rate 比率 (%)")
        ax2.yaxis.set_major_formatter(PercentFormatter())
        ax.set_title(report.title)
        handles = ax.get_legend_handles_labels()
        handles2 = ax2.get_legend_handles_labels()
        ax.legend(handles[0] + handles2[0], handles[1] + handles2[1], loc="upper center",
                  bbox_to_anchor=(0.5, -0.14), fontsize=9, ncols=5, frameon=False)  # below: hides no data
        ymax = max([1] + [r.figures.offered for r in rows])
        ax.set_ylim(0, ymax * 1.1)
        fig.tight_layout()
    return fig


def save_png(report: Report, path: str) -> None:
    figure(report).savefig(path, format="png")
