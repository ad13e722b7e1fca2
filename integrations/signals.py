"""Bump the customer's configuration revision when its accounts or Salesmanago mappings change."""

from mappings.spec import bump_on_change

from .models import IntegrationMapping, MappingEntry, SalesmanagoAccount

bump_on_change(SalesmanagoAccount, "pk", "customer_id")
bump_on_change(IntegrationMapping, "data_point_types", "data_point_type_id")
bump_on_change(MappingEntry, "data_point_types__salesmanago_mapping", "mapping_id")
