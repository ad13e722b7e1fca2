"""The squashed migrations (one per app): a database that ran the old chains sees the
squashed ones as applied and runs only the migrations that came after them; one
stopped partway through a chain is refused with what to do, before anything is
applied.

A new database gets the schema the chains made: this test database is created with the
squashed migrations, and its ``pg_dump --schema-only`` was compared with one the old
chains made when they were squashed (the commit says how)."""

from io import StringIO

import pytest
from django.core.checks import run_checks
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.db.migrations.recorder import MigrationRecorder

# What the previous release recorded in django_migrations for the three apps.
OLD_CHAINS = {
    "mappings": [
        "0001_initial",
        "0002_rate_limit_and_mapping_versions",
        "0003_config_revision_and_payload_tried",
    ],
    "ingestion": [
        "0001_initial",
        "0002_requestlog_mapping_version",
        "0003_file_uploads",
        "0004_health_rollups",
        "0005_file_takeovers",
        "0006_requestlog_changed",
        "0007_privacy",
    ],
    "integrations": [
        "0001_initial",
        "0002_delivery_call_started",
        "0003_health_rollups",
        "0004_delivery_erase",
        "0005_salesmanago_event",
    ],
}
SQUASHED = {
    "mappings": "0001_squashed_0003_config_revision_and_payload_tried",
    "ingestion": "0001_squashed_0007_privacy",
    "integrations": "0001_squashed_0005_salesmanago_event",
}


def recorded():
    return MigrationRecorder(connection).migration_qs.filter(app__in=OLD_CHAINS)


def later_migrations() -> set[tuple[str, str]]:
    """The migrations of the three apps that came after the squashed ones."""
    on_disk = MigrationExecutor(connection).loader.disk_migrations
    return {
        (app, name)
        for app, name in on_disk
        if app in OLD_CHAINS and (app, name) not in SQUASHED.items()
    }


@pytest.fixture
def previous_release(db):
    """This database's records with the old chains in place of the squashed
    migrations (as a database that ran the chains and then this release's later
    migrations has them; its schema is this database's)."""
    for app, name in SQUASHED.items():
        recorded().filter(app=app, name=name).delete()
    for app, names in OLD_CHAINS.items():
        for name in names:
            recorded().get_or_create(app=app, name=name)


def partial_chain_errors():
    return [e for e in run_checks(databases=["default"]) if e.id == "datatalks.E001"]


def test_the_old_chains_applied_means_nothing_to_migrate(previous_release):
    executor = MigrationExecutor(connection)
    assert executor.migration_plan(executor.loader.graph.leaf_nodes()) == []
    out = StringIO()
    call_command("migrate", "--no-input", skip_checks=False, stdout=out)
    assert "No migrations to apply." in out.getvalue()
    squashed = set(
        recorded().filter(name__contains="_squashed_").values_list("app", "name")
    )
    assert squashed == set(SQUASHED.items())


def test_after_the_old_chains_only_the_later_migrations_are_planned(previous_release):
    # The previous release's database: the old chains and nothing after them.
    for app, name in later_migrations():
        recorded().filter(app=app, name=name).delete()
    executor = MigrationExecutor(connection)
    plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    planned = {(m.app_label, m.name) for m, backwards in plan if not backwards}
    assert len(planned) == len(plan)
    assert planned == later_migrations()


@pytest.mark.parametrize("app", OLD_CHAINS)
def test_a_database_stopped_partway_through_a_chain_is_refused(previous_release, app):
    recorded().filter(app=app, name=OLD_CHAINS[app][-1]).delete()
    [error] = partial_chain_errors()
    assert f"the migrations of {app} that {SQUASHED[app]} replaces" in error.msg
    assert f"its last one applied is {OLD_CHAINS[app][-2]}" in error.msg
    assert "previous release first" in error.hint
    with pytest.raises(SystemCheckError, match="stopped partway"):
        call_command("migrate", "--no-input", skip_checks=False, stdout=StringIO())


def test_whole_chains_and_new_databases_pass_the_check(previous_release):
    assert partial_chain_errors() == []
    recorded().delete()  # a database no migration has touched
    assert partial_chain_errors() == []
