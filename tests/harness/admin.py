"""The admin as a browser sees it: forms read from the HTML and submitted back."""

import re
from html.parser import HTMLParser

from django.urls import reverse


class BrowserForm(HTMLParser):
    """The fields a browser would submit from the admin's main form, by name."""

    def __init__(self, form_id: str):
        super().__init__()
        self.form_id, self.inside = form_id, False
        self.values: dict[str, str] = {}
        self._select: str | None = None
        self._textarea: str | None = None
        self._first_option: str | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            self.inside = a.get("id") == self.form_id
        if not self.inside or "disabled" in a or "__prefix__" in a.get("name", "_"):
            return
        if tag == "input":
            self._input(a)
        elif tag == "select":
            self._select, self._first_option = a["name"], None
        elif tag == "option" and self._select:
            self._option(a)
        elif tag == "textarea":
            self._textarea = a["name"]
            self.values[self._textarea] = ""

    def _input(self, a: dict) -> None:
        kind = a.get("type", "text")
        if kind in ("submit", "button", "image", "file", "reset") or "name" not in a:
            return
        if kind in ("checkbox", "radio") and "checked" not in a:
            return
        self.values[a["name"]] = a.get("value", "on" if kind == "checkbox" else "")

    def _option(self, a: dict) -> None:
        if self._first_option is None:
            self._first_option = a.get("value", "")
            self.values.setdefault(self._select, self._first_option)
        if "selected" in a:
            self.values[self._select] = a.get("value", "")

    def handle_endtag(self, tag):
        if tag == "form":
            self.inside = False
        elif tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None

    def handle_data(self, data):
        if self._textarea:
            self.values[self._textarea] += data


def form_values(response, model_name: str) -> dict[str, str]:
    reader = BrowserForm(f"{model_name}_form")
    reader.feed(response.content.decode())
    assert reader.values, f"no {model_name}_form on the page"
    return reader.values


def submit(client, url: str, changes: dict, *, model_name: str):
    """Opens the admin form at ``url``, changes fields as a person would, saves it.

    A change of ``None`` unticks a checkbox (a browser then sends nothing).
    """
    values = form_values(client.get(url), model_name)
    for name, value in changes.items():
        if value is None:
            values.pop(name, None)
        else:
            values[name] = value
    return client.post(url, {**values, "_save": "Save"})


def as_submitted(prefix: str, values: dict) -> dict:
    """``values`` under the names ``prefix + key`` as a browser submits them: True as
    a ticked checkbox ("on"); False and None not at all (unticked, nothing chosen)."""
    return {
        f"{prefix}{key}": "on" if value is True else value
        for key, value in values.items()
        if value is not None and value is not False
    }


def action_names(html: str) -> set[str]:
    """The actions offered in a changelist's action menu (none: no menu)."""
    menu = re.search(r'<select name="action"[^>]*>(.*?)</select>', html, re.S)
    if not menu:
        return set()
    return set(re.findall(r'<option value="([^"]+)"', menu.group(1)))


def admin_url(name: str, view: str, obj=None) -> str:
    return reverse(f"admin:{name}_{view}", args=[obj.pk] if obj is not None else [])
