"""The squashed migrations (one per app): a database the previous release migrated
(the old chains recorded) migrates to nothing new, and one stopped partway through a
chain is refused with what to do, before anything is applied.

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


@pytest.fixture
def previous_release(db):
    """This database's migration records as the previous release left them."""
    recorded().delete()
    for app, names in OLD_CHAINS.items():
        for name in names:
            recorded().create(app=app, name=name)


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
