"""Admin pages of records the system writes: staff look at them, nobody edits them."""


class ReadOnlyAdminMixin:
    """No add, change or delete in the admin, whoever the user is (superusers too).

    Put it before ``admin.ModelAdmin`` (or an inline) in the bases. Viewing still
    needs the model's view permission.
    """

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
