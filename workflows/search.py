"""The custom search attributes every case carries, so the Temporal web console lists and
filters cases by regulation, customer and status (registered by the worker at start-up), and
those a case may set as it goes: the level a matter has reached (an escalation ladder), the
department it is with, and whether a deadline of it was breached (e.g. `CaseLevel IN ('3', '4') AND
CaseBreached = 'yes' AND CaseStatus = 'open'`)."""

from __future__ import annotations

from temporalio.common import SearchAttributeKey

REGULATION = SearchAttributeKey.for_keyword("Regulation")
CUSTOMER_ID = SearchAttributeKey.for_keyword("CustomerId")
CASE_STATUS = SearchAttributeKey.for_keyword("CaseStatus")
# Keywords too, like the others (one type for the dev server, the compose job and Temporal
# Cloud): the level as "1".."4", the breach state as "yes" / "no".
CASE_LEVEL = SearchAttributeKey.for_keyword("CaseLevel")
CASE_DEPARTMENT = SearchAttributeKey.for_keyword("CaseDepartment")
CASE_BREACHED = SearchAttributeKey.for_keyword("CaseBreached")

SEARCH_ATTRIBUTES: tuple[SearchAttributeKey[str], ...] = (
    REGULATION,
    CUSTOMER_ID,
    CASE_STATUS,
    CASE_LEVEL,
    CASE_DEPARTMENT,
    CASE_BREACHED,
)
