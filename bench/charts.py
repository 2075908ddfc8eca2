#!/usr/bin/env python3
"""bench/charts.py — draws the figures of a `make bench` run as SVG (plain Python 3, no library).

    bench/charts.py RESULTS.json OUTDIR

Writes OUTDIR/scale.svg (time until all mappings are at the router and until all are gone, natt
beside the floor, against the number of sockets; log-log) and OUTDIR/ratios.svg (natt / baseline
of the hook, start-up and bind()+listen() rows, with their targets). bench/run calls it at the end.
"""
import json
import math
import sys
from xml.sax.saxutils import escape

NATT = "#1f5fa8"
FLOOR = "#d9731a"
SEQ = "#7a7a7a"
MET = "#3c9a48"
MISSED = "#c8382c"
NEUTRAL = "#8c8c8c"
FONT = 'font-family="DejaVu Sans, Arial, sans-serif"'


class Svg:
    def __init__(self, width, height):
        self.width, self.height = width, height
        self.parts = []

    def add(self, text):
        self.parts.append(text)

    def text(self, x, y, s, size=12, anchor="start", color="#222", weight="normal"):
        self.add(f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" text-anchor="{anchor}" '
                 f'fill="{color}" font-weight="{weight}">{escape(s)}</text>')

    def line(self, x1, y1, x2, y2, color="#222", width=1, dash=None):
        d = f' stroke-dasharray="{dash}"' if dash else ""
        self.add(f'<line x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}" stroke="{color}" '
                 f'stroke-width="{width}"{d}/>')

    def polyline(self, points, color, width=2, dash=None):
        if len(points) < 2:
            return
        d = f' stroke-dasharray="{dash}"' if dash else ""
        pts = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
        self.add(f'<polyline points="{pts}" fill="none" stroke="{color}" stroke-width="{width}"{d}/>')

    def marker(self, x, y, shape, color, hollow=False):
        fill = "white" if hollow else color
        if shape == "circle":
            self.add(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="4" fill="{fill}" stroke="{color}" stroke-width="1.5"/>')
        elif shape == "square":
            self.add(f'<rect x="{x - 3.5:.1f}" y="{y - 3.5:.1f}" width="7" height="7" fill="{fill}" '
                     f'stroke="{color}" stroke-width="1.5"/>')
        else:  # diamond
            self.add(f'<polygon points="{x:.1f},{y - 6:.1f} {x + 6:.1f},{y:.1f} {x:.1f},{y + 6:.1f} '
                     f'{x - 6:.1f},{y:.1f}" fill="{fill}" stroke="{color}" stroke-width="1.5"/>')

    def rect(self, x, y, w, h, color, opacity=1.0):
        self.add(f'<rect x="{x:.1f}" y="{y:.1f}" width="{max(w, 0):.1f}" height="{h:.1f}" fill="{color}" '
                 f'fill-opacity="{opacity}"/>')

    def write(self, path):
        with open(path, "w", encoding="utf-8") as f:
            f.write(f'<svg xmlns="http://www.w3.org/2000/svg" width="{self.width}" height="{self.height}" '
                    f'viewBox="0 0 {self.width} {self.height}" {FONT}>\n')
            f.write(f'<rect width="{self.width}" height="{self.height}" fill="white"/>\n')
            f.write("\n".join(self.parts))
            f.write("\n</svg>\n")


def log_range(values):
    """Powers of ten enclosing the values."""
    lo = min(values)
    hi = max(values)
    return 10 ** math.floor(math.log10(lo) + 1e-9), 10 ** math.ceil(math.log10(hi) - 1e-9)


def ms_label(ms):
    if ms >= 1000:
        return f"{ms / 1000:g} s"
    if ms >= 1:
        return f"{ms:g} ms"
    return f"{ms * 1000:g} µs"


def scale_panel(svg, x0, y0, w, h, title, key, single, multi):
    """One log-log panel: time (key: up or down) against sockets."""
    series = []
    for row in single + multi:
        for name in ("natt", "floor", "nattseq"):
            v = row.get(f"{name}_{key}_ms")
            if v is not None and v > 0:
                series.append(v)
    sockets = [r["sockets"] for r in single + multi]
    if not series or not sockets:
        svg.text(x0 + w / 2, y0 + h / 2, "no scale run", anchor="middle")
        return
    xlo, xhi = log_range(sockets)
    if xhi == xlo:
        xhi = xlo * 10
    ylo, yhi = log_range(series)
    if yhi == ylo:
        yhi = ylo * 10

    def px(v):
        return x0 + (math.log10(v) - math.log10(xlo)) / (math.log10(xhi) - math.log10(xlo)) * w

    def py(v):
        return y0 + h - (math.log10(v) - math.log10(ylo)) / (math.log10(yhi) - math.log10(ylo)) * h

    svg.text(x0 + w / 2, y0 - 12, title, size=14, anchor="middle", weight="bold")
    svg.line(x0, y0 + h, x0 + w, y0 + h)
    svg.line(x0, y0, x0, y0 + h)
    d = xlo
    while d <= xhi * 1.001:
        svg.line(px(d), y0, px(d), y0 + h, color="#e4e4e4")
        svg.line(px(d), y0 + h, px(d), y0 + h + 4)
        svg.text(px(d), y0 + h + 17, f"{d:g}", anchor="middle")
        d *= 10
    d = ylo
    while d <= yhi * 1.001:
        svg.line(x0, py(d), x0 + w, py(d), color="#e4e4e4")
        svg.line(x0 - 4, py(d), x0, py(d))
        svg.text(x0 - 7, py(d) + 4, ms_label(d), anchor="end")
        d *= 10
    svg.text(x0 + w / 2, y0 + h + 36, "sockets", anchor="middle")

    for name, color, shape, dash in (("floor", FLOOR, "square", None), ("nattseq", SEQ, "square", "5,4"),
                                     ("natt", NATT, "circle", None)):
        pts = [(px(r["sockets"]), py(r[f"{name}_{key}_ms"])) for r in single
               if r.get(f"{name}_{key}_ms") is not None and r[f"{name}_{key}_ms"] > 0]
        svg.polyline(pts, color, width=2 if name != "nattseq" else 1.5, dash=dash)
        for x, y in pts:
            svg.marker(x, y, shape, color, hollow=name == "nattseq")
    # natt / floor above each natt point
    for r in single:
        n, f = r.get(f"natt_{key}_ms"), r.get(f"floor_{key}_ms")
        if n and f:
            svg.text(px(r["sockets"]), py(n) - 9, f"{n / f:.2f}×", size=11, anchor="middle", color=NATT)
    for r in multi:
        for name, color in (("natt", NATT), ("floor", FLOOR)):
            v = r.get(f"{name}_{key}_ms")
            if v:
                svg.marker(px(r["sockets"]), py(v), "diamond", color, hollow=True)
        n, f = r.get(f"natt_{key}_ms"), r.get(f"floor_{key}_ms")
        if n and f:
            label = f"{r['processes']}×{r['sockets'] // r['processes']}: {n / f:.2f}×"
            svg.text(px(r["sockets"]) + 10, py(n) + 4, label, size=11, color=NATT)


def scale_chart(results, path):
    rows = results.get("scale", [])
    single = sorted((r for r in rows if r.get("processes") == 1), key=lambda r: r["sockets"])
    multi = [r for r in rows if r.get("processes", 1) > 1]
    svg = Svg(980, 490)
    svg.text(490, 24, "Scale: mappings made and removed at the router (log-log; lower is better)",
             size=15, anchor="middle", weight="bold")
    scale_panel(svg, 90, 80, 330, 300, "all public at the router", "up", single, multi)
    scale_panel(svg, 565, 80, 330, 300, "all gone at the router", "down", single, multi)
    # legend
    items = [("circle", NATT, False, "natt (one process; label: natt / floor)"),
             ("square", FLOOR, False, "floor: the same exchanges, no waiting"),
             ("square", SEQ, True, "floor making natt's requests"),
             ("diamond", NATT, True, "natt, P processes × S sockets"),
             ("diamond", FLOOR, True, "floor, P clients at once")]
    for i, (shape, color, hollow, label) in enumerate(items):
        x, y = 90 + (i % 3) * 300, 448 + (i // 3) * 20
        svg.marker(x, y - 4, shape, color, hollow)
        svg.text(x + 10, y, label, size=11)
    machine = results.get("machine", {})
    run = f"{'quick' if results.get('quick') else 'full'} make bench of {results.get('date', '?')}: " \
          f"{machine.get('cpus', '?')} x {machine.get('cpu', '?')}, load {machine.get('load_start', '?')}; " \
          f"{results.get('router', {}).get('software', '')}"
    svg.text(490, 44, run, size=11, anchor="middle", color="#555")
    svg.write(path)


def ratios_chart(results, path):
    rows = [r for r in results.get("results", [])
            if r.get("compare") == "ratio" and r.get("item") in (1, 2, 3) and r.get("value")]
    row_h = 24
    top = 64
    left = 400
    width = 480
    cap = 4.0  # bars beyond this are cut, with their value written at the end
    svg = Svg(980, top + row_h * max(len(rows), 1) + 60)
    svg.text(490, 24, "natt ÷ baseline, same run (1 = no cost; log scale)", size=15, anchor="middle",
             weight="bold")
    svg.text(490, 44, f"green: target met, red: missed, grey: no target; black tick: the target; "
             f"bars beyond {cap:g}× are cut (▶)", size=11, anchor="middle", color="#555")
    if not rows:
        svg.text(490, top + 20, "no ratio rows", anchor="middle")
        svg.write(path)
        return
    values = [r["value"] for r in rows] + [r["target"] for r in rows if r.get("target")]
    lo = min(0.85, min(values) * 0.95)
    hi = min(max(values) * 1.15, cap)

    def px(v):
        v = min(max(v, lo), hi)
        return left + (math.log(v) - math.log(lo)) / (math.log(hi) - math.log(lo)) * width

    bottom = top + row_h * len(rows)
    for t in (0.5, 0.7, 0.9, 1, 1.1, 1.25, 1.5, 2, 3, 4):
        if lo <= t <= hi:
            svg.line(px(t), top - 4, px(t), bottom, color="#e4e4e4" if t != 1 else "#222")
            svg.text(px(t), bottom + 16, f"{t:g}×", size=11, anchor="middle")
    for i, r in enumerate(rows):
        y = top + i * row_h
        color = NEUTRAL if r.get("met") is None else MET if r["met"] else MISSED
        x1, x2 = sorted((px(1), px(r["value"])))
        svg.rect(x1, y + 5, x2 - x1, row_h - 10, color, 0.85)
        svg.text(left - 8, y + row_h / 2 + 4, f"{r['item']}  {r['what']}", size=11, anchor="end")
        cut = "▶ " if r["value"] > hi else ""
        end = max(px(r["value"]), px(1), px(r["target"]) if r.get("target") else 0)
        svg.text(end + 6, y + row_h / 2 + 4, f"{cut}{r['value']:.3g}×", size=11)
        if r.get("target"):
            svg.line(px(r["target"]), y + 2, px(r["target"]), y + row_h - 2, color="#222", width=2)
    svg.text(left + width / 2, bottom + 36, "1 hooks (CPU per call), 2 start-up, 3 bind()+listen()", size=11,
             anchor="middle", color="#555")
    svg.write(path)


def main():
    if len(sys.argv) != 3:
        sys.stderr.write("usage: bench/charts.py RESULTS.json OUTDIR\n")
        return 2
    with open(sys.argv[1], encoding="utf-8") as f:
        results = json.load(f)
    scale_chart(results, f"{sys.argv[2]}/scale.svg")
    ratios_chart(results, f"{sys.argv[2]}/ratios.svg")
    return 0


if __name__ == "__main__":
    sys.exit(main())
