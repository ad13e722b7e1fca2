"""The system check that refuses a database stopped partway through a squashed chain.

Each app's migrations were squashed into one that ``replaces`` the old chain, and the
old files are gone. A database that applied the whole chain sees the squashed migration
as applied; a new one applies it. One that applied only part of a chain cannot go on:
Django then leaves the squashed migration out of the plan, and ``migrate`` would apply
nothing for that app and report success. ``migrate`` runs the database checks first, so
this error stops it and says what to do (README, "Upgrading").
"""

from django.core import checks
from django.db import connections
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.recorder import MigrationRecorder


@checks.register(checks.Tags.database)
def squashed_chains_check(app_configs, databases=None, **kwargs):
    """Errors for each squashed migration whose chain a database applied only in part.

    The files are read without the database (with a partial chain and later
    migrations on disk, Django cannot build its graph at all) and compared with what
    the database recorded."""
    replacements = MigrationLoader(None, ignore_no_migrations=True).replacements
    errors = []
    for alias in databases or []:
        recorded = MigrationRecorder(connections[alias]).applied_migrations()
        for (app, name), migration in replacements.items():
            applied = [key for key in migration.replaces if key in recorded]
            if applied and len(applied) < len(migration.replaces):
                errors.append(partial_chain_error(alias, app, name, applied[-1][1]))
    return errors


def partial_chain_error(alias: str, app: str, name: str, last: str) -> checks.Error:
    return checks.Error(
        f"The database {alias!r} stopped partway through the migrations of {app} "
        f"that {name} replaces (its last one applied is {last}).",
        hint="Upgrade with the previous release first (its `migrate` completes the "
        "chain), then run this release's `migrate` (README, Upgrading).",
        id="datatalks.E001",
    )
