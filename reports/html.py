"""``report.html``: one self-contained page (inline CSS and SVG, images as data URLs, no scripts, no network).

Per camera: a timeline with one lane per modality score and the anomaly spans across all lanes, a card
per anomaly with its evidence thumbnail, reasons, transcript excerpt and lineage, and the transcript.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from html import escape
from pathlib import Path

from reports.model import CameraReport, Marker, Report, ReportAnomaly, Series

SEVERITY_COLOURS = {"LOW": "#3f8f5a", "MEDIUM": "#d39b00", "HIGH": "#e0590b", "CRITICAL": "#c0182b"}
MODALITY_COLOURS = {"pose": "#2f6fdb", "scene": "#8a3fd1", "audio": "#0f8f8f", "caption": "#666666"}

_PLOT_W = 960
_LABEL_W = 190
_LANE_H = 64
_LANE_GAP = 14
_SPAN_LANE_H = 26
_AXIS_H = 26
_TICK_STEPS = (0.5, 1.0, 2.0, 5.0, 10.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0)

_CSS = """
:root { font-family: system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif; color: #1d2330; background: #f5f6f8; }
body { margin: 0; padding: 24px 32px 48px; }
h1 { margin: 0 0 4px; font-size: 24px; }
h2 { margin: 0; font-size: 19px; }
h3 { font-size: 15px; margin: 18px 0 8px; }
.meta { color: #5b6476; font-size: 13px; }
.summary { display: flex; gap: 12px; flex-wrap: wrap; margin: 16px 0 20px; }
.tile { background: #fff; border-radius: 8px; padding: 10px 16px; box-shadow: 0 1px 2px rgba(0,0,0,.08);
  min-width: 120px; }
.tile b { display: block; font-size: 22px; }
.tile span { color: #5b6476; font-size: 12px; text-transform: uppercase; letter-spacing: .04em; }
.camera { background: #fff; border-radius: 10px; padding: 18px 20px; margin: 0 0 22px;
  box-shadow: 0 1px 3px rgba(0,0,0,.08); }
.notes, .problems { background: #fff7e0; border-left: 4px solid #d39b00; padding: 8px 14px; margin: 10px 0;
  font-size: 13px; }
.problems { border-left-color: #c0182b; background: #fdecee; }
.ok { background: #e8f6ec; border-left: 4px solid #3f8f5a; padding: 8px 14px; margin: 10px 0; font-size: 13px; }
.cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(420px, 1fr)); gap: 14px; }
.card { border: 1px solid #e1e4ea; border-radius: 8px; padding: 12px; display: flex; gap: 12px; }
.card img { width: 160px; height: 120px; object-fit: cover; border-radius: 6px; background: #222; flex: none; }
.card .noimg { width: 160px; height: 120px; border-radius: 6px; background: #e9ecf1; color: #8a93a3; flex: none;
  display: flex; align-items: center; justify-content: center; font-size: 12px; }
.card ul { margin: 6px 0; padding-left: 18px; font-size: 13px; }
.badge { display: inline-block; color: #fff !important; border-radius: 4px; padding: 1px 7px; font-size: 12px;
  font-weight: 600; }
.tile .badge { font-size: 16px; }
.kind { display: inline-block; background: #eef1f6; border-radius: 4px; padding: 1px 6px; font-size: 12px;
  margin-right: 4px; font-weight: 600; }
.time { font-variant-numeric: tabular-nums; font-weight: 600; }
.excerpt { font-style: italic; font-size: 13px; color: #394152; }
details { font-size: 12px; color: #5b6476; }
table { border-collapse: collapse; font-size: 13px; width: 100%; }
td, th { text-align: left; padding: 4px 8px; border-bottom: 1px solid #edf0f4; vertical-align: top; }
th { color: #5b6476; font-weight: 600; }
td.t { white-space: nowrap; font-variant-numeric: tabular-nums; width: 120px; }
.phrase { background: #fde2c4; border-radius: 3px; padding: 0 4px; }
svg text { font-family: inherit; }
"""


def render_html(report: Report) -> str:
    top = report.max_severity
    status = "complete" if report.complete else "INCOMPLETE"
    head = (
        f"<h1>Anomaly report</h1><div class='meta'>run {escape(report.run_id)} · generated "
        f"{escape(report.generated_at.strftime('%Y-%m-%d %H:%M:%S %Z'))} · analysis took {report.elapsed_s:.1f} s"
        f" · {status}</div>"
    )
    tiles = [
        _tile("files analysed", str(len(report.cameras))),
        _tile("anomalies", str(len(report.anomalies))),
        _tile("highest severity", _badge(top.value) if top else "none"),
    ]
    if report.problems:
        tiles.append(_tile("files not analysed", str(len(report.problems))))
    parts = [head, f"<div class='summary'>{''.join(tiles)}</div>", _problems(report)]
    parts += [_camera(cam) for cam in report.cameras]
    body = "\n".join(p for p in parts if p)
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>Anomaly report {escape(report.run_id)}</title><style>{_CSS}</style></head>"
        f"<body>{body}</body></html>\n"
    )


def write_html(report: Report, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_html(report), encoding="utf-8")
    return path


def format_time(t_s: float) -> str:
    """``mm:ss.s`` from the start of the file."""
    t_s = max(t_s, 0.0)
    minutes, seconds = divmod(t_s, 60.0)
    return f"{int(minutes):02d}:{seconds:04.1f}"


def _tile(label: str, value_html: str) -> str:
    return f"<div class='tile'><b>{value_html}</b><span>{escape(label)}</span></div>"


def _badge(severity: str) -> str:
    colour = SEVERITY_COLOURS.get(severity, "#666")
    return f"<span class='badge' style='background:{colour}'>{escape(severity)}</span>"


def _problems(report: Report) -> str:
    items = [f"<li><b>{escape(p.path)}</b>: {escape(p.reason)}</li>" for p in report.problems]
    items += [
        f"<li>stage <b>{escape(s.stage)}</b> did not finish: {escape(s.detail or f'{s.processed}/{s.expected}')}</li>"
        for s in report.stages
        if not s.done
    ]
    out = f"<div class='problems'><ul>{''.join(items)}</ul></div>" if items else ""
    if report.skipped:
        skipped = "".join(f"<li>{escape(s)}</li>" for s in report.skipped)
        out += f"<div class='notes'>Not run on this machine:<ul>{skipped}</ul></div>"
    return out


def _camera(cam: CameraReport) -> str:
    meta = (
        f"{escape(cam.source)} · {format_time(cam.duration_s)} · {cam.frames} frames · {cam.audio_chunks} audio chunks"
    )
    parts = [f"<section class='camera' id='cam-{escape(cam.camera_id)}'><h2>{escape(cam.camera_id)}</h2>"]
    parts.append(f"<div class='meta'>{meta}</div>")
    if cam.notes:
        parts.append("<div class='notes'>" + "<br>".join(escape(n) for n in cam.notes) + "</div>")
    parts.append(timeline_svg(cam))
    if cam.anomalies:
        parts.append(f"<h3>Anomalies ({len(cam.anomalies)})</h3><div class='cards'>")
        parts += [_card(a, cam.thumbnails.get(a.anomaly_id)) for a in cam.anomalies]
        parts.append("</div>")
    else:
        parts.append("<div class='ok'>No anomaly detected in this file.</div>")
    parts.append(_transcript(cam))
    parts.append("</section>")
    return "\n".join(parts)


def _card(a: ReportAnomaly, thumbnail: bytes | None) -> str:
    if thumbnail:
        mime = "image/png" if thumbnail.startswith(b"\x89PNG") else "image/jpeg"
        data = base64.b64encode(thumbnail).decode("ascii")
        img = f"<img alt='evidence frame' src='data:{mime};base64,{data}'>"
    else:
        img = "<div class='noimg'>no frame</div>"
    kinds = "".join(f"<span class='kind'>{escape(k.value)}</span>" for k in a.kinds)
    reasons = "".join(f"<li>{escape(r)}</li>" for r in a.reasons)
    excerpt = f"<div class='excerpt'>“{escape(a.transcript_excerpt)}”</div>" if a.transcript_excerpt else ""
    caption = f"<div class='excerpt'>caption: {escape(a.caption)}</div>" if a.caption else ""
    lineage_rows = "".join(
        f"<tr><td>{escape(item.modality)}</td><td>{escape(item.topic)}[{item.partition}]@{item.offset}</td>"
        f"<td>{escape(item.model)}</td></tr>"
        for item in a.lineage
    )
    lineage = (
        f"<details><summary>lineage: {len(a.lineage)} score events · rules {escape(a.rules_version)} · "
        f"fusion {escape(a.fusion_version)} · id {escape(a.anomaly_id)} rev {a.revision}</summary>"
        f"<table>{lineage_rows}</table></details>"
    )
    return (
        f"<div class='card'>{img}<div>{_badge(a.severity.value)} {kinds}"
        f"<div class='time'>{format_time(a.start_s)} &ndash; {format_time(a.end_s)}"
        f" <span class='meta'>score {a.score:.2f} · {escape(a.state.value)}</span></div>"
        f"<ul>{reasons}</ul>{excerpt}{caption}{lineage}</div></div>"
    )


def _transcript(cam: CameraReport) -> str:
    if not cam.transcript:
        return ""
    rows = []
    for line in cam.transcript:
        text = escape(line.text)
        if line.phrases:
            text += " " + " ".join(f"<span class='phrase'>{escape(p)}</span>" for p in line.phrases)
        span = f"{format_time(line.start_s)} &ndash; {format_time(line.end_s)}"
        rows.append(f"<tr><td class='t'>{span}</td><td>{text}</td></tr>")
    return f"<h3>Transcript</h3><table>{''.join(rows)}</table>"


def tick_step(duration_s: float, max_ticks: int = 12) -> float:
    for step in _TICK_STEPS:
        if duration_s / step <= max_ticks:
            return step
    return _TICK_STEPS[-1]


def timeline_svg(cam: CameraReport) -> str:
    """Lanes of score series over a shared time axis, anomaly spans shaded across every lane."""
    duration = max(cam.duration_s, 1.0)
    plot_w = _PLOT_W - _LABEL_W - 30
    lanes = cam.series
    height = _SPAN_LANE_H + len(lanes) * (_LANE_H + _LANE_GAP) + _AXIS_H

    def x(t: float) -> float:
        return round(_LABEL_W + min(max(t, 0.0), duration) / duration * plot_w, 1)

    out = [
        f"<svg xmlns='http://www.w3.org/2000/svg' width='{_PLOT_W}' height='{height}' "
        f"viewBox='0 0 {_PLOT_W} {height}' role='img' aria-label='score timeline'>"
    ]
    for a in cam.anomalies:
        colour = SEVERITY_COLOURS.get(a.severity.value, "#666")
        x0, x1 = x(a.start_s), x(a.end_s)
        width = max(x1 - x0, 3.0)
        label = escape(" + ".join(k.value for k in a.kinds))
        out.append(
            f"<rect x='{x0}' y='0' width='{width}' height='{height - _AXIS_H}' fill='{colour}' fill-opacity='0.13'/>"
            f"<rect x='{x0}' y='2' width='{width}' height='{_SPAN_LANE_H - 6}' rx='3' fill='{colour}'/>"
            f"<text x='{x0 + 4}' y='{_SPAN_LANE_H - 9}' font-size='11' fill='#fff' font-weight='600'>{label}</text>"
        )
    out.append(f"<text x='0' y='{_SPAN_LANE_H - 9}' font-size='12' fill='#5b6476'>anomalies</text>")
    for i, series in enumerate(lanes):
        top = _SPAN_LANE_H + i * (_LANE_H + _LANE_GAP)
        out.append(_lane(series, top, x, [m for m in cam.markers if m.lane == series.key]))
    axis_y = height - _AXIS_H
    out.append(f"<line x1='{_LABEL_W}' y1='{axis_y}' x2='{_LABEL_W + plot_w}' y2='{axis_y}' stroke='#9aa3b2'/>")
    step = tick_step(duration)
    ticks = int(duration // step) + 1
    for n in range(ticks):
        t = n * step
        out.append(
            f"<line x1='{x(t)}' y1='{axis_y}' x2='{x(t)}' y2='{axis_y + 4}' stroke='#9aa3b2'/>"
            f"<text x='{x(t)}' y='{axis_y + 16}' font-size='11' fill='#5b6476' text-anchor='middle'>"
            f"{format_time(t)}</text>"
        )
    out.append("</svg>")
    return "".join(out)


def _lane(series: Series, top: float, x: Callable[[float], float], markers: list[Marker]) -> str:
    span = (series.hi - series.lo) or 1.0
    colour = MODALITY_COLOURS.get(series.modality, "#333")

    def y(v: float) -> float:
        clamped = min(max(v, series.lo), series.hi)
        return round(top + _LANE_H - (clamped - series.lo) / span * _LANE_H, 1)

    unit = f" ({series.unit})" if series.unit else ""
    right = _PLOT_W - 30
    out = [
        f"<rect x='{_LABEL_W}' y='{top}' width='{right - _LABEL_W}' height='{_LANE_H}' fill='none' stroke='#e1e4ea'/>",
        f"<text x='0' y='{top + 14}' font-size='12' fill='{colour}' font-weight='600'>{escape(series.modality)}</text>",
        f"<text x='0' y='{top + 30}' font-size='11' fill='#394152'>{escape(series.label)}{escape(unit)}</text>",
        f"<text x='{_LABEL_W - 4}' y='{top + 10}' font-size='10' fill='#8a93a3' text-anchor='end'>{series.hi:g}</text>",
        f"<text x='{_LABEL_W - 4}' y='{top + _LANE_H}' font-size='10' fill='#8a93a3' text-anchor='end'>"
        f"{series.lo:g}</text>",
    ]
    points = " ".join(f"{x(p.t_s)},{y(p.value)}" for p in series.points)
    if len(series.points) > 1:
        out.append(f"<polyline points='{points}' fill='none' stroke='{colour}' stroke-width='1.6'/>")
    out += [f"<circle cx='{x(p.t_s)}' cy='{y(p.value)}' r='1.8' fill='{colour}'/>" for p in series.points]
    for m in markers:
        out.append(
            f"<line x1='{x(m.t_s)}' y1='{top}' x2='{x(m.t_s)}' y2='{top + _LANE_H}' stroke='#c0182b' "
            f"stroke-dasharray='3 2'/><text x='{x(m.t_s) + 3}' y='{top + 12}' font-size='11' fill='#c0182b' "
            f"font-weight='600'>“{escape(m.label)}”</text>"
        )
    return "".join(out)
