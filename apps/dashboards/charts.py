"""Plotly figures of the dashboards, built from plain data.

Pure module: no ORM, no request, no settings. Every builder takes frozen dataclasses
(apps/dashboards/chart_points.py; the selectors fill them) and returns a
``plotly.graph_objects.Figure``. Every clickable element carries its drill-down link in
``customdata`` (one URL string per point); static/dashboards/charts.js follows it on ``plotly_click``. Views serialize
the figures with ``fig.to_json()``; plotly.js itself is served from static files.

Colour is never the only signal: bars carry their numbers as text, status markers
also differ by symbol, and the SLA / target lines are labelled.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from decimal import Decimal

import plotly.graph_objects as go

from apps.dashboards.calculations import COVERAGE_BAND, pareto_cumulative, rate
from apps.dashboards.chart_points import (
    CoveragePoint,
    FunnelStage,
    HourBin,
    RateBar,
    ReasonBar,
    RepBar,
    RevenuePoint,
    TrendPoint,
    VolumePoint,
)

__all__ = [
    "compliance_trend",
    "conversion_bars",
    "first_contact_distribution",
    "funnel",
    "mql_volume",
    "pipeline_coverage",
    "rejection_pareto",
    "rep_compliance",
    "revenue_by_source",
    "sparkline",
    "speed_to_lead",
]

INK = "#1d2330"
MUTED = "#5b6475"
BRAND = "#2454d6"
STATUS_COLOURS = {"green": "#1e7d3b", "yellow": "#b07400", "red": "#b3261e", "grey": "#8a93a3"}
# Marker shape per status, so a colour-blind reader (or a grey-scale print) still tells them apart.
STATUS_SYMBOLS = {"green": "circle", "yellow": "diamond", "red": "x", "grey": "circle-open"}
SOURCE_PALETTE = (
    "#2454d6",
    "#1e7d3b",
    "#b07400",
    "#7b3fb3",
    "#b3261e",
    "#0f7f86",
    "#5b6475",
    "#c2559c",
)


# --- builders ---------------------------------------------------------------------------
#
# Each builder assembles plain trace and layout dicts and hands them to go.Figure once:
# plotly validates a figure in one pass that way, several times faster than a chain of
# update_layout / add_shape calls (which matters with a dozen figures per page).


def first_contact_distribution(
    bins: Sequence[HourBin],
    *,
    sla_hours: float | None,
    clock: str = "business",
    median_hours: float | None = None,
    p90_hours: float | None = None,
) -> go.Figure:
    """Bars of MQLs per time-to-first-contact bin (business hours) with the SLA line."""
    within = [b.upper is not None and sla_hours is not None and b.upper <= sla_hours for b in bins]
    bars = {
        "type": "bar",
        "x": [b.label for b in bins],
        "y": [b.count for b in bins],
        "text": [str(b.count) for b in bins],
        "textposition": "outside",
        "cliponaxis": False,
        "marker": {"color": [STATUS_COLOURS["green"] if ok else BRAND for ok in within]},
        "customdata": [b.link for b in bins],
        "hovertemplate": "%{x}: %{y} MQLs<extra></extra>",
        "name": "MQLs",
    }
    subtitle = []
    if median_hours is not None:
        subtitle.append(f"median {median_hours:.1f} h")
    if p90_hours is not None:
        subtitle.append(f"p90 {p90_hours:.1f} h")
    layout = _layout(
        title=f"Time to first contact ({clock} hours)",
        subtitle=" · ".join(subtitle),
        yaxis_title="MQLs",
    )
    layout["yaxis"].update(_count_ticks(max([b.count for b in bins] + [0])))
    if sla_hours is not None:
        # Category axis: bar i is centred on i, so the edge between bins sits at i - 0.5.
        edge_index = next((i for i, b in enumerate(bins) if b.lower >= sla_hours), len(bins))
        x = edge_index - 0.5
        layout["shapes"] = [
            {
                "type": "line",
                "x0": x,
                "x1": x,
                "y0": 0,
                "y1": 1,
                "yref": "paper",
                "line": {"color": STATUS_COLOURS["red"], "width": 2, "dash": "dash"},
            }
        ]
        layout["annotations"] = [
            {
                "x": x,
                "y": 1,
                "yref": "paper",
                "text": f"SLA {sla_hours:g} {clock} h",
                "showarrow": False,
                "xanchor": "left",
                "yanchor": "bottom",
                "font": {"color": STATUS_COLOURS["red"]},
            }
        ]
    return go.Figure(data=[bars], layout=layout)


def compliance_trend(
    points: Sequence[TrendPoint],
    *,
    target: float,
    yellow_threshold: float,
    title: str,
    subtitle: str = "",
    unit: str = "rate",
) -> go.Figure:
    """A commitment's value per period against its target and yellow threshold lines."""
    # Every point labelled while they fit; beyond 8, only the latest (hover has the rest).
    labels = [
        _format(p.value, unit) if len(points) <= 8 or i == len(points) - 1 else ""
        for i, p in enumerate(points)
    ]
    values = {
        "type": "scatter",
        "x": [p.label for p in points],
        "y": [_scaled(p.value, unit) for p in points],
        "mode": "lines+markers+text",
        "text": labels,
        "textposition": "top center",
        "line": {"color": INK, "width": 2},
        "marker": {
            "size": 12,
            "color": [STATUS_COLOURS.get(p.status, MUTED) for p in points],
            "symbol": [STATUS_SYMBOLS.get(p.status, "circle") for p in points],
            "line": {"width": 1, "color": INK},
        },
        "customdata": [p.link for p in points],
        "hovertext": [_trend_hover(p, unit) for p in points],
        "hoverinfo": "text",
        "name": title,
        "connectgaps": False,
    }
    data = [values]
    layout = _layout(title=title, subtitle=subtitle, yaxis_title=_unit_title(unit))
    layout["annotations"] = []
    for value, name, status, dash in (
        (target, f"Target {_format(target, unit)}", "green", "dash"),
        (yellow_threshold, f"Yellow threshold {_format(yellow_threshold, unit)}", "yellow", "dot"),
    ):
        if not points:
            continue
        y = _scaled(value, unit)
        data.append(
            {
                "type": "scatter",
                "x": [p.label for p in points],
                "y": [y] * len(points),
                "mode": "lines",
                "line": {"color": STATUS_COLOURS[status], "dash": dash, "width": 2},
                "name": name,
                "hoverinfo": "skip",
                "showlegend": False,
            }
        )
        # Labelled at the line's right end rather than in a legend: the words sit by the line.
        layout["annotations"].append(
            {
                "x": 1,
                "xref": "paper",
                "y": y,
                "text": name,
                "showarrow": False,
                "xanchor": "right",
                "yanchor": "bottom",
                "font": {"size": 12, "color": STATUS_COLOURS[status]},
            }
        )
    if unit == "rate":
        layout["yaxis"].update(range=[0, 105], ticksuffix="%")
    return go.Figure(data=data, layout=layout)


def mql_volume(points: Sequence[VolumePoint], *, title: str = "MQL volume") -> go.Figure:
    """MQLs per period (bars) against the target (pro-rated for the open period)."""
    data = [
        {
            "type": "bar",
            "x": [p.label for p in points],
            "y": [p.count for p in points],
            "text": [str(p.count) for p in points],
            "textposition": "outside",
            "cliponaxis": False,
            "marker": {"color": [BRAND if not p.is_open else "#8fa8ea" for p in points]},
            "customdata": [p.link for p in points],
            "hovertemplate": "%{x}: %{y} MQLs<extra></extra>",
            "name": "MQLs",
        }
    ]
    if any(p.target is not None for p in points):
        data.append(
            {
                "type": "scatter",
                "x": [p.label for p in points],
                "y": [p.target for p in points],
                "mode": "lines+markers",
                "line": {"color": STATUS_COLOURS["green"], "dash": "dash", "shape": "hvh"},
                "marker": {"symbol": "line-ew-open", "size": 14},
                "name": "Target (pro-rated while open)",
                "hovertemplate": "target %{y:.0f}<extra></extra>",
                "customdata": [p.link for p in points],
            }
        )
    return go.Figure(data=data, layout=_layout(title=title, yaxis_title="MQLs", showlegend=True))


def conversion_bars(
    bars: Sequence[RateBar],
    *,
    title: str,
    subtitle: str = "",
    horizontal: bool = False,
) -> go.Figure:
    """Conversion rate per category (week, source, campaign…) with "n of N" on every bar."""
    trace, layout = _conversion_parts(bars, title=title, subtitle=subtitle, horizontal=horizontal)
    return go.Figure(data=[trace], layout=layout)


def _conversion_parts(
    bars: Sequence[RateBar], *, title: str, subtitle: str, horizontal: bool
) -> tuple[dict, dict]:
    values = [_scaled(b.value, "rate") for b in bars]
    # Vertical bars are narrow: the counts go on a second line.
    joiner = " " if horizontal else "<br>"
    text = [f"{_format(b.value, 'rate')}{joiner}({b.numerator} of {b.denominator})" for b in bars]
    labels = [b.label for b in bars]
    trace = {
        "type": "bar",
        "x": values if horizontal else labels,
        "y": labels if horizontal else values,
        "orientation": "h" if horizontal else "v",
        "text": text,
        # Outside, so a 0 % bar still says "0% (0 of 4)" instead of vanishing.
        "textposition": "outside",
        "cliponaxis": False,
        "marker": {"color": BRAND},
        "customdata": [b.link for b in bars],
        "hovertemplate": "%{text}<extra></extra>",
        "name": "conversion",
    }
    if horizontal:
        layout = _layout(title=title, subtitle=subtitle, height=max(320, 110 + 34 * len(bars)))
        # Room on the right for the "100% (n of N)" label of a full bar.
        ticks = [0, 25, 50, 75, 100]
        layout["xaxis"] = {
            "range": [0, 135],
            "tickvals": ticks,
            "ticktext": [f"{t}%" for t in ticks],
            "automargin": True,
        }
        layout["yaxis"].update(autorange="reversed")
    else:
        layout = _layout(title=title, subtitle=subtitle)
        # Room above a full bar for its two-line "100% (n of N)" label, inside the plot:
        # the axis runs to 130 but is labelled 0-100 %.
        ticks = [0, 20, 40, 60, 80, 100]
        layout["yaxis"].update(range=[0, 130], tickvals=ticks, ticktext=[f"{t}%" for t in ticks])
    return trace, layout


def speed_to_lead(bars: Sequence[RateBar]) -> go.Figure:
    """MQL→SQL conversion by first-contact bucket (< 5 min … later, none): the speed-to-lead curve."""
    trace, layout = _conversion_parts(
        bars,
        title="Speed to lead",
        subtitle="MQL → SQL by time from MQL to first contact",
        horizontal=False,
    )
    curve = {
        "type": "scatter",
        "x": [b.label for b in bars],
        "y": [_scaled(b.value, "rate") for b in bars],
        "mode": "lines+markers",
        "line": {"color": INK, "width": 2},
        "marker": {"size": 9},
        "customdata": [b.link for b in bars],
        "hoverinfo": "skip",
        "name": "curve",
        "showlegend": False,
    }
    layout["xaxis"] = {
        "title": {"text": "Time to first contact", "font": {"size": 13}},
        "automargin": True,
    }
    return go.Figure(data=[trace, curve], layout=layout)


def funnel(
    stages: Sequence[FunnelStage], *, title: str = "Funnel", subtitle: str = ""
) -> go.Figure:
    """Lead → MQL → SQL → opportunity → won: counts, conversion from the previous stage and
    the median time spent in each stage.

    Drawn as left-aligned horizontal bars with their words outside, on an axis wide enough
    for them: a centred funnel's labels had to fit inside bars that narrow to nothing on a
    phone, and were cut off."""
    text = []
    for i, stage in enumerate(stages):
        first = [f"{stage.count}"]
        if i > 0 and stages[i - 1].count:
            conversion = rate(stage.count, stages[i - 1].count)
            first.append(f"{_format(conversion, 'rate')} of {stages[i - 1].label}")
        line = " · ".join(first)
        if stage.median_days is not None:
            line += f"<br>median {stage.median_days:.1f} d in stage"
        text.append(line)
    palette = [BRAND, "#3a66dc", "#5079e2", "#6b8fe8", STATUS_COLOURS["green"]]
    trace = {
        "type": "bar",
        "orientation": "h",
        "y": [s.label for s in stages],
        "x": [s.count for s in stages],
        "text": text,
        "textposition": "outside",
        "cliponaxis": False,
        "marker": {"color": palette[: len(stages)]},
        "customdata": [s.link for s in stages],
        "hovertemplate": "%{y}: %{text}<extra></extra>",
        "name": "leads",
    }
    layout = _layout(
        title=title, subtitle=subtitle, height=max(320, _SUBTITLE_PX + 80 + 52 * len(stages))
    )
    layout["yaxis"].update(autorange="reversed", gridcolor="rgba(0,0,0,0)")
    # The longest bar takes a third of the width: its words always fit beside it.
    widest = max([s.count for s in stages] + [1])
    layout["xaxis"] = {
        "range": [0, widest * 3],
        "showticklabels": False,
        "showgrid": False,
        "zeroline": True,
        "automargin": True,
    }
    layout["bargap"] = 0.25
    return go.Figure(data=[trace], layout=layout)


def rejection_pareto(
    bars: Sequence[ReasonBar], *, title: str = "Rejection reasons (Pareto, by source)"
) -> go.Figure:
    """Stacked bars of rejections per reason (sorted by total, descending), one colour per source,
    with the cumulative share of all rejections on the right axis."""
    totals: dict[str, int] = {}
    for bar in bars:
        totals[bar.reason] = totals.get(bar.reason, 0) + bar.count
    reasons = sorted(totals, key=lambda r: (-totals[r], r))
    sources = sorted({bar.source for bar in bars})
    by_key = {(bar.reason, bar.source): bar for bar in bars}
    data = []
    for index, source in enumerate(sources):
        cells = [by_key.get((reason, source)) for reason in reasons]
        data.append(
            {
                "type": "bar",
                "x": reasons,
                "y": [c.count if c else 0 for c in cells],
                "name": source or "(no source)",
                "marker": {"color": SOURCE_PALETTE[index % len(SOURCE_PALETTE)]},
                "customdata": [c.link if c else None for c in cells],
                "hovertemplate": "%{x} · " + (source or "(no source)") + ": %{y}<extra></extra>",
            }
        )
    cumulative = pareto_cumulative([totals[r] for r in reasons])
    data.append(
        {
            "type": "scatter",
            "x": reasons,
            "y": [c * 100 for c in cumulative],
            "yaxis": "y2",
            "mode": "lines+markers+text",
            "text": [f"{c:.0%}" for c in cumulative],
            "textposition": "bottom right",
            "line": {"color": INK},
            "name": "Cumulative share",
            "hoverinfo": "skip",
        }
    )
    layout = _layout(title=title, yaxis_title="Rejections", showlegend=True)
    layout["barmode"] = "stack"
    layout["yaxis2"] = _percent_axis_right()
    layout["yaxis"].update(_count_ticks(max(totals.values(), default=0)))
    return go.Figure(data=data, layout=layout)


def rep_compliance(bars: Sequence[RepBar], *, title: str = "Compliance per rep") -> go.Figure:
    """Horizontal grouped bars per rep and clock metric, reps ranked by their overall rate."""
    overall: dict[str, tuple[int, int]] = {}
    for bar in bars:
        met, total = overall.get(bar.rep, (0, 0))
        overall[bar.rep] = (met + bar.met, total + bar.met + bar.missed)
    reps = sorted(overall, key=lambda r: (-(rate(*overall[r]) or -1.0), r))
    metrics = list(dict.fromkeys(bar.metric for bar in bars))
    by_key = {(bar.rep, bar.metric): bar for bar in bars}
    data = []
    for index, metric in enumerate(metrics):
        cells = [by_key.get((rep, metric)) for rep in reps]
        data.append(
            {
                "type": "bar",
                "y": reps,
                "x": [_scaled(c.value, "rate") if c else None for c in cells],
                "orientation": "h",
                "name": metric,
                "marker": {"color": SOURCE_PALETTE[index % len(SOURCE_PALETTE)]},
                "text": [
                    f"{_format(c.value, 'rate')} ({c.met} of {c.met + c.missed})" if c else ""
                    for c in cells
                ],
                "textposition": "auto",
                "customdata": [c.link if c else None for c in cells],
                "hovertemplate": "%{y} · " + metric + ": %{text}<extra></extra>",
            }
        )
    layout = _layout(
        title=title,
        showlegend=True,
        height=max(340, 150 + 28 * len(reps) * max(len(metrics), 1)),
    )
    layout["barmode"] = "group"
    layout["xaxis"] = {"range": [0, 105], "ticksuffix": "%", "automargin": True}
    layout["yaxis"].update(autorange="reversed")
    return go.Figure(data=data, layout=layout)


def pipeline_coverage(
    points: Sequence[CoveragePoint], *, band: tuple[float, float] = COVERAGE_BAND
) -> go.Figure:
    """Coverage ratio per quarter (open pipeline ÷ revenue target) against the healthy 3x–4x band."""
    ratios = [p.ratio for p in points]
    trace = {
        "type": "bar",
        "x": [p.label for p in points],
        "y": ratios,
        "text": [
            (f"{r:.1f}x" if r is not None else "no target") + f" ({_money(p.amount)})"
            for p, r in zip(points, ratios, strict=True)
        ],
        "textposition": "outside",
        "cliponaxis": False,
        "marker": {"color": [_coverage_colour(r, band) for r in ratios]},
        "customdata": [p.link for p in points],
        "hovertemplate": "%{x}: %{text}<extra></extra>",
        "name": "coverage",
    }
    low, high = band
    layout = _layout(title="Pipeline coverage", yaxis_title="× revenue target")
    layout["shapes"] = [
        {
            "type": "rect",
            "xref": "paper",
            "x0": 0,
            "x1": 1,
            "y0": low,
            "y1": high,
            "fillcolor": STATUS_COLOURS["green"],
            "opacity": 0.12,
            "line": {"width": 0},
            "layer": "below",
        }
    ]
    layout["annotations"] = [
        {
            "xref": "paper",
            "x": 0,
            "y": high,
            "text": f"healthy {low:g}x–{high:g}x",
            "showarrow": False,
            "xanchor": "left",
            "yanchor": "top",
            "font": {"color": STATUS_COLOURS["green"]},
        }
    ]
    top = max([r for r in ratios if r is not None] + [high]) * 1.2
    layout["yaxis"].update(range=[0, top], ticksuffix="x")
    return go.Figure(data=[trace], layout=layout)


def revenue_by_source(points: Sequence[RevenuePoint]) -> go.Figure:
    """Won revenue per source/channel (bars, amount above each) and win rate (markers on the
    right axis). The win rate's words sit under the source's name, not by its marker: a
    marker can land anywhere on a bar, and two labels there ran over each other."""
    labels = [
        f"{p.label or '(no source)'}<br>{_format(p.win_rate, 'rate')} win ({p.won} of {p.won + p.lost})"
        for p in points
    ]
    data = [
        {
            "type": "bar",
            "x": labels,
            "y": [float(p.won_amount) for p in points],
            "text": [_money(p.won_amount) for p in points],
            "textposition": "outside",
            "cliponaxis": False,
            "marker": {"color": BRAND},
            "customdata": [p.link for p in points],
            "hovertemplate": "%{x}: %{text} won<extra></extra>",
            "name": "Won revenue",
        },
        {
            "type": "scatter",
            "x": labels,
            "y": [_scaled(p.win_rate, "rate") for p in points],
            "yaxis": "y2",
            "mode": "markers",
            "marker": {"size": 12, "symbol": "diamond", "color": STATUS_COLOURS["green"]},
            "customdata": [p.link for p in points],
            "hovertext": [
                f"{_format(p.win_rate, 'rate')} win ({p.won} of {p.won + p.lost})" for p in points
            ],
            "hoverinfo": "text",
            "name": "Win rate",
        },
    ]
    layout = _layout(
        title="Win rate and revenue by source", yaxis_title="Won revenue", showlegend=True
    )
    top = max([float(p.won_amount) for p in points] + [1.0])
    # Room above the tallest bar for its amount.
    layout["yaxis"].update(range=[0, top * 1.2])
    layout["yaxis2"] = _percent_axis_right()
    return go.Figure(data=data, layout=layout)


def sparkline(
    points: Sequence[TrendPoint], *, target: float | None = None, unit: str = "rate"
) -> go.Figure:
    """A tiny line of the last periods for a scorecard tile; markers show each period's status."""
    line = {
        "type": "scatter",
        "x": [p.label for p in points],
        "y": [_scaled(p.value, unit) for p in points],
        "mode": "lines+markers",
        "line": {"color": MUTED, "width": 2},
        "marker": {
            "size": 7,
            "color": [STATUS_COLOURS.get(p.status, MUTED) for p in points],
            "symbol": [STATUS_SYMBOLS.get(p.status, "circle") for p in points],
        },
        "customdata": [p.link for p in points],
        "hovertext": [_trend_hover(p, unit) for p in points],
        "hoverinfo": "text",
        "connectgaps": False,
    }
    layout = {
        "height": 60,
        "margin": {"l": 2, "r": 2, "t": 4, "b": 4},
        "showlegend": False,
        "paper_bgcolor": "rgba(0,0,0,0)",
        "plot_bgcolor": "rgba(0,0,0,0)",
        "xaxis": {"visible": False, "fixedrange": True},
        "yaxis": {"visible": False, "fixedrange": True},
    }
    if target is not None and points:
        layout["shapes"] = [
            {
                "type": "line",
                "xref": "paper",
                "x0": 0,
                "x1": 1,
                "y0": _scaled(target, unit),
                "y1": _scaled(target, unit),
                "line": {"color": STATUS_COLOURS["green"], "dash": "dot", "width": 1},
            }
        ]
    return go.Figure(data=[line], layout=layout)


# --- internals --------------------------------------------------------------------------


# Pixels from the top of a figure to the bottom of its title block (title, and subtitle).
_TITLE_PX = 46
_SUBTITLE_PX = 72


def _layout(
    *,
    title: str,
    yaxis_title: str | None = None,
    showlegend: bool = False,
    subtitle: str = "",
    height: int = 400,
) -> dict:
    """The shared layout: readable type, white background, and a legend that can never cover
    the title: both are placed in the figure's own (container) coordinates, the legend just
    under the title block and growing downwards, so on a narrow screen its wrapped rows push
    the plot down (plotly's automargin) instead of climbing over the title."""
    heading: dict = {
        "text": title,
        "x": 0,
        "xref": "container",
        "xanchor": "left",
        "y": 1,
        "yref": "container",
        "yanchor": "top",
        "pad": {"t": 14, "l": 12},
        "font": {"size": 17},
    }
    top = _SUBTITLE_PX if subtitle else _TITLE_PX
    if subtitle:
        heading["subtitle"] = {"text": subtitle, "font": {"size": 13, "color": MUTED}}
    yaxis: dict = {"gridcolor": "#e6e9ef", "zerolinecolor": "#c5ccd8", "automargin": True}
    if yaxis_title:
        yaxis["title"] = {"text": yaxis_title}
    return {
        "title": heading,
        "font": {
            "family": "system-ui, -apple-system, Segoe UI, Roboto, sans-serif",
            "size": 14,
            "color": INK,
        },
        "margin": {"l": 56, "r": 40, "t": top + (30 if showlegend else 10), "b": 56},
        "height": height,
        "showlegend": showlegend,
        "legend": {
            "orientation": "h",
            "xref": "container",
            "x": 0,
            "xanchor": "left",
            "yref": "container",
            "y": 1 - (top - 4) / height,
            "yanchor": "top",
            "font": {"size": 13},
        },
        "paper_bgcolor": "#ffffff",
        "plot_bgcolor": "#ffffff",
        "hoverlabel": {"font": {"size": 14}},
        "clickmode": "event",
        "xaxis": {"automargin": True},
        "yaxis": yaxis,
    }


def _percent_axis_right() -> dict:
    """A 0-100 % axis on the right, with room above 100 % and round ticks only."""
    ticks = [0, 25, 50, 75, 100]
    return {
        "overlaying": "y",
        "side": "right",
        "range": [0, 110],
        "tickvals": ticks,
        "ticktext": [f"{t}%" for t in ticks],
        "showgrid": False,
        "automargin": True,
    }


def _count_ticks(largest: float) -> dict:
    """Whole-number ticks for an axis of counts (no 0.5 MQL), about five of them."""
    return {"tick0": 0, "dtick": max(1, math.ceil(largest / 5)), "rangemode": "tozero"}


def _scaled(value: float | None, unit: str) -> float | None:
    if value is None:
        return None
    return round(value * 100, 2) if unit == "rate" else value


def _format(value: float | None, unit: str) -> str:
    if value is None:
        return "no data"
    if unit == "rate":
        return f"{value * 100:.0f}%"
    if unit == "ratio":
        return f"{value:.1f}x"
    return f"{value:,.0f}"


def _unit_title(unit: str) -> str:
    return {"rate": "Share of MQLs", "ratio": "× revenue target"}.get(unit, "Count")


def _trend_hover(point: TrendPoint, unit: str) -> str:
    text = f"{point.label}: {_format(point.value, unit)} ({point.status})"
    if point.numerator is not None and point.denominator is not None and unit == "rate":
        text += f" — {point.numerator:.0f} of {point.denominator:.0f}"
    return text


def _coverage_colour(ratio: float | None, band: tuple[float, float]) -> str:
    if ratio is None:
        return STATUS_COLOURS["grey"]
    if ratio >= band[0]:
        return STATUS_COLOURS["green"]
    return STATUS_COLOURS["yellow"] if ratio >= band[0] * 0.75 else STATUS_COLOURS["red"]


def _money(amount: Decimal | float | None) -> str:
    if amount is None:
        return "–"
    value = float(amount)
    if abs(value) >= 1_000_000:
        return f"{value / 1_000_000:.1f}M"
    if abs(value) >= 10_000:
        return f"{value / 1_000:.0f}k"
    return f"{value:,.0f}"
