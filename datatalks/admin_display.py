"""How the admin shows ids and long texts in lists: short, whole on hover and on copy.

Lists must fit a 1,400 px screen; the object's own page shows every value in full.
"""

from django.contrib import admin
from django.utils import timezone
from django.utils.html import format_html, mark_safe

SHORT_ID = 8
CUT = 60
_COPY_ICON = mark_safe(
    '<svg width="12" height="12" viewBox="0 0 16 16" aria-hidden="true">'
    '<rect x="5" y="5" width="9" height="9" rx="1.5" fill="none" stroke="currentColor" '
    'stroke-width="1.6"/><path d="M3 11V3.5A1.5 1.5 0 0 1 4.5 2H11" fill="none" '
    'stroke="currentColor" stroke-width="1.6"/></svg>'
)


def short_id(value, *, url: str | None = None) -> str:
    """The first characters of an id, its full value on hover, and a copy button."""
    if value in (None, ""):
        return "—"
    full = str(value)
    shown = format_html("<code>{}</code>", full[:SHORT_ID])
    if url:
        shown = format_html('<a href="{}">{}</a>', url, shown)
    return format_html(
        '<span class="dt-id" title="{}">{}<button type="button" class="dt-copy" '
        'data-copy="{}" title="Copy {}" aria-label="Copy {}">{}</button></span>',
        full,
        shown,
        full,
        full,
        full,
        _COPY_ICON,
    )


def cut(text: str, length: int = CUT) -> str:
    """The text's start on one line; the whole text on hover."""
    if not text:
        return "—"
    if len(text) <= length:
        return text
    return format_html(
        '<span class="dt-cut" title="{}">{}…</span>', text, text[: length - 1]
    )


def badge(label: str, tone: str) -> str:
    """A coloured status label: ``ok``, ``bad`` or ``wait``."""
    return format_html('<span class="dt-badge {}">{}</span>', tone, label)


def when(moment) -> str:
    """A datetime in the site's zone, compact: 2026-11-30 10:27:05."""
    if moment is None:
        return "—"
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M:%S")


def column(show, field: str, description: str):
    """A list column showing ``show(obj.<field>)``, sorted by ``field`` (an admin's
    one-line columns of ids, times and links)."""

    @admin.display(description=description, ordering=field)
    def shown(self, obj):
        return show(getattr(obj, field))

    return shown
