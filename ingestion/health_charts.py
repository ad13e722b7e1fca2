"""Bar charts as inline SVG, drawn on the server: the data health page loads no chart
library, from a CDN or otherwise."""

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

WIDTH, HEIGHT, GAP = 360, 70, 1
_BAR = (
    '<g><title>{}</title><rect class="ok" x="{}" y="{}" width="{}" height="{}"/>'
    '<rect class="bad" x="{}" y="{}" width="{}" height="{}"/></g>'
)


def bar_chart(
    buckets: list[tuple[object, int, int]], *, label: str, fmt: str
) -> SafeString:
    """Stacked bars, accepted (green) under rejected (red), one per bucket; each bar's
    title gives its figures."""
    top = max((a + r for _, a, r in buckets), default=0) or 1
    width = WIDTH / max(len(buckets), 1)
    bars = []
    for index, (when, accepted, rejected) in enumerate(buckets):
        x, ok_h, bad_h = index * width, HEIGHT * accepted / top, HEIGHT * rejected / top
        ok = (x, HEIGHT - ok_h, width - GAP, ok_h)
        bad = (x, HEIGHT - ok_h - bad_h, width - GAP, bad_h)
        shown = [f"{n:.1f}" for n in (*ok, *bad)]
        title = f"{when:{fmt}}: {accepted} accepted, {rejected} rejected"
        bars.append((title, *shown))
    return format_html(
        '<svg class="dt-chart" role="img" aria-label="{}" viewBox="0 0 {} {}" '
        'width="{}" height="{}" preserveAspectRatio="none">{}</svg>',
        label,
        WIDTH,
        HEIGHT,
        WIDTH,
        HEIGHT,
        format_html_join("", _BAR, bars),
    )
