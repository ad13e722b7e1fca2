"""A ModelAdmin's own pages (upload, try a payload, export...): URL patterns behind the
admin's login, named as the admin names its own views."""

from functools import partial

from django.urls import path, re_path


class OwnPagesMixin:
    """Adds ``pages`` to a ModelAdmin's URLs, before its own.

    Each page is ``(route, view, suffix)``: the view behind the admin's login, named
    ``<app>_<model>_<suffix>``. A view named by a string is a method of the admin; a
    function is called with the admin first (the onboarding pages of admin_views). A
    route starting with ``^`` is a regular expression.
    """

    pages = ()

    def get_urls(self):
        return [self._own_page(*page) for page in self.pages] + super().get_urls()

    def _own_page(self, route: str, view, suffix: str):
        view = getattr(self, view) if isinstance(view, str) else partial(view, self)
        pattern = re_path if route.startswith("^") else path
        opts = self.model._meta
        name = f"{opts.app_label}_{opts.model_name}_{suffix}"
        return pattern(route, self.admin_site.admin_view(view), name=name)
