"""The custom search attributes every case carries, so the Temporal web console lists and
filters cases by regulation, customer and status (registered by the worker at start-up)."""

from __future__ import annotations

from temporalio.common import SearchAttributeKey

REGULATION = SearchAttributeKey.for_keyword("Regulation")
CUSTOMER_ID = SearchAttributeKey.for_keyword("CustomerId")
CASE_STATUS = SearchAttributeKey.for_keyword("CaseStatus")

SEARCH_ATTRIBUTES: tuple[SearchAttributeKey[str], ...] = (REGULATION, CUSTOMER_ID, CASE_STATUS)
