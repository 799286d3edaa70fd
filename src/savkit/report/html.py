"""Self-contained HTML pages (inline CSS, SVG plots, PNG thumbnails as data URIs: nothing is fetched) and the
Markdown summary, for a report and for a comparison."""

from __future__ import annotations

import base64
import html

from savkit.report import figures
from savkit.report.build import ResultsReport
from savkit.report.compare import Comparison

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 1000px; color: #222; }
table { border-collapse: collapse; margin: 0.5rem 0 1rem; }
th, td { border: 1px solid #ccc; padding: 0.25rem 0.6rem; text-align: right; }
th:first-child, td:first-child { text-align: left; }
section { margin-bottom: 2rem; }
.note { color: #666; font-style: italic; }
.thumbs img { border: 1px solid #ccc; }
.thumb { display: inline-block; margin: 0.25rem 0.75rem 0.25rem 0; font-size: 0.85rem; color: #555; }
figure { margin: 0.5rem 0; }
.warning { color: #8a5300; }
"""


def _page(title: str, body: str) -> str:
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title><style>{STYLE}</style></head>\n<body>\n"
        f"<h1>{html.escape(title)}</h1>\n{body}\n</body></html>\n"
    )


def _table(header: list[str], rows: list[list[object]]) -> str:
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{_cell(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _cell(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.1f}"
    return "-" if value is None else html.escape(str(value))


def _section(section_id: str, title: str, content: str) -> str:
    return f'<section id="{section_id}"><h2>{html.escape(title)}</h2>\n{content}\n</section>'


def _figure_html(figure) -> str:
    return f"<figure>{figures.svg(figure)}</figure>"


def _png_img(data: bytes, alt: str) -> str:
    encoded = base64.b64encode(data).decode("ascii")
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{encoded}">'


def report_html(report: ResultsReport) -> str:
    data = report.data
    g = data.get("global", {})
    names = [n for n in g if g[n] is not None]
    sections = [
        _section(
            "global",
            "Global scores",
            f"<p>protocol <b>{html.escape(str(data.get('protocol')))}</b>, {len(data['objects'])} objects</p>"
            + _table(names, [[float(g[n]) for n in names]])
            + "".join(f'<p class="warning">warning: {html.escape(w)}</p>' for w in data.get("warnings", [])),
        )
    ]
    titles = {
        "distribution": f"Distribution of per-object {report.label}",
        "by-size": f"{report.label} by object size",
        "by-frames": f"{report.label} by number of evaluated frames",
    }
    for section_id, title in titles.items():
        if section_id in report.figures:
            content = _figure_html(report.figures[section_id])
        else:
            content = f'<p class="note">{html.escape(report.notes[section_id])}</p>'
        sections.append(_section(section_id, title, content))
    sections.append(_section("worst", f"The {len(report.worst)} worst objects", _worst_html(report)))
    return _page(report.title, "\n".join(sections))


def _worst_html(report: ResultsReport) -> str:
    parts = []
    for item in report.worst:
        obj = item.obj
        caption = (
            f"{obj['video']} / object {obj['object']}: {report.label} {float(obj.get(report.label) or 0):.1f}"
        )
        parts.append(f"<h3>{html.escape(caption)}</h3>" + _figure_html(item.curves))
        if item.thumbnails:
            images = "".join(
                '<figure class="thumb">'
                + _png_img(png, f"GT and prediction of {obj['video']}/{obj['object']} at frame {frame}")
                + f"<figcaption>frame {html.escape(frame)}: GT | prediction</figcaption></figure>"
                for frame, png in item.thumbnails
            )
            parts.append(f'<div class="thumbs">{images}</div>')
    if not any(item.thumbnails for item in report.worst):
        parts.append(
            '<p class="note">pass --gt_root and --pred_root to see GT and prediction at the worst frames</p>'
        )
    return "\n".join(parts)


def report_markdown(report: ResultsReport, image_dir: str) -> tuple[str, dict[str, bytes]]:
    """The Markdown summary and its images ({file name under image_dir: PNG})."""
    data, g = report.data, report.data.get("global", {})
    names = [n for n in g if g[n] is not None]
    images: dict[str, bytes] = {}
    lines = [
        f"# {report.title}",
        "",
        f"protocol `{data.get('protocol')}`, {len(data['objects'])} objects",
        "",
    ]
    lines += [
        "| " + " | ".join(names) + " |",
        "|" + "---|" * len(names),
        "| " + " | ".join(f"{float(g[n]):.1f}" for n in names) + " |",
        "",
    ]
    for section_id, figure in report.figures.items():
        images[f"{section_id}.png"] = figures.png(figure)
        lines += [f"![{section_id}]({image_dir}/{section_id}.png)", ""]
    for note in report.notes.values():
        lines += [f"_{note}_", ""]
    lines += [f"## The {len(report.worst)} worst objects", "", "| video | object | score |", "|---|---|---|"]
    lines += [
        f"| {i.obj['video']} | {i.obj['object']} | {float(i.obj.get(report.label) or 0):.1f} |"
        for i in report.worst
    ]
    lines.append("")
    for number, item in enumerate(report.worst):
        name = f"worst-{number + 1}.png"
        images[name] = figures.png(item.curves)
        lines += [f"![{item.obj['video']}/{item.obj['object']}]({image_dir}/{name})", ""]
        for frame, png in item.thumbnails:
            thumb = f"worst-{number + 1}-{frame}.png"
            images[thumb] = png
            lines += [f"![GT and prediction at frame {frame}]({image_dir}/{thumb})", ""]
    return "\n".join(lines), images


def compare_html(comparison: Comparison, count: int = 10) -> str:
    c = comparison
    rows = [[name, f"{value:+.2f}"] for name, value in c.delta.items()]
    stats = (
        _table(["measure", "B - A (points)"], rows)
        + f"<p>95% confidence interval of the J&amp;F difference (paired bootstrap over objects, seeded): "
        f"[{c.ci95[0]:+.2f}, {c.ci95[1]:+.2f}]; sign test p = {c.sign_test_p:.4g}</p>"
    )
    deltas = [o.delta for o in c.objects]
    plots = _figure_html(figures.delta_histogram(deltas, f"per-object differences ({len(deltas)} objects)"))
    plots += _figure_html(
        figures.paired_scatter([o.a for o in c.objects], [o.b for o in c.objects], "A against B")
    )
    lists = ""
    for title, improved in (("Improved most", True), ("Regressed most", False)):
        rows = [[o.video, o.object, o.a, o.b, f"{o.delta:+.1f}"] for o in c.most(count, improved)]
        lists += f"<h3>{title}</h3>" + (
            _table(["video", "object", "A", "B", "B - A"], rows) if rows else "<p>none</p>"
        )
    body = "\n".join(
        [
            _section(
                "runs",
                "Runs",
                f"<p>A: {html.escape(str(c.a_path))}<br>B: {html.escape(str(c.b_path))}<br>protocol {html.escape(c.protocol)}</p>",
            ),
            _section("difference", "Difference (B minus A)", stats),
            _section("plots", "Per object", plots),
            _section("objects", "Objects", lists),
        ]
    )
    return _page("savkit compare", body)
