"""Asking the registries what a :class:`~sync.verification.case.QueryPlan` allows, and nothing more.

The questions run concurrently, at most ``concurrency`` at a time (each HTTP source also limits and breaks its own
circuit). A source that cannot answer now (:class:`~registries.errors.SourceUnavailable`, which includes an open
circuit and refused credentials) marks that question unavailable and its answer stays missing: the verdict then
waits for it rather than deciding on missing data, and the sweeper asks again later. Any other registry error
(a question the source refuses as malformed) is raised: the worker retries the change and parks it after its
attempts, so an operator sees it rather than a case deciding around it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from registries.errors import SourceUnavailable
from registries.models import IdentityQuery
from registries.sources import Sources
from sync.verification.case import CaseFile, Query, QueryPlan, RegistryFacts

#: Which member of :class:`Sources` answers each question (for logs and the dynamic layer).
QUERY_SOURCE: dict[Query, str] = {
    Query.identity: "population",
    Query.life_status: "population",
    Query.dtsen_household: "dtsen",
    Query.employment: "ministries",
    Query.bpjs: "ministries",
    Query.assets: "ministries",
}


def identity_query(case: CaseFile, nik: str) -> IdentityQuery:
    """What is submitted to Dukcapil for ``nik``: the name and birth date as the household (or, failing that, the
    person's consent) records them, and the household's KK number. Dukcapil answers match / no match per field."""
    household = case.household.body if case.household else None
    if household is not None:
        for member in household.members:
            if member.nik == nik:
                return IdentityQuery(
                    nik=nik, name=member.name, birth_date=member.birth_date, kk_number=household.kk_number
                )
    consents = [c for c in (case.consent, *case.member_consents) if c is not None]
    for consent in consents:
        if consent.body.subject_nik == nik:
            return IdentityQuery(
                nik=nik,
                name=consent.body.subject_name,
                birth_date=consent.body.subject_birth_date,
                kk_number=household.kk_number if household else None,
            )
    return IdentityQuery(nik=nik, kk_number=household.kk_number if household else None)


async def fetch_facts(case: CaseFile, plan: QueryPlan, sources: Sources, *, concurrency: int = 8) -> RegistryFacts:
    """Run every query of ``plan`` (none when the plan is stopped); see the module docstring for failures."""
    if plan.stopped or not plan.queries:
        return RegistryFacts()
    limit = asyncio.Semaphore(concurrency)
    answers: dict[Query, dict[str, Any]] = {query: {} for query in Query}
    unavailable: set[Query] = set()

    def call(query: Query, key: str) -> Callable[[], Awaitable[Any]]:
        match query:
            case Query.identity:
                return lambda: sources.population.verify(identity_query(case, key))
            case Query.life_status:
                return lambda: sources.population.status(key)
            case Query.dtsen_household:
                return lambda: sources.dtsen.household_by_kk(key)
            case Query.employment:
                return lambda: sources.ministries.employment(key)
            case Query.bpjs:
                return lambda: sources.ministries.bpjs(key)
            case Query.assets:
                return lambda: sources.ministries.assets(key)
        raise AssertionError(f"unknown query {query!r}")  # pragma: no cover  (the match is exhaustive)

    async def ask(query: Query, key: str) -> None:
        async with limit:
            try:
                answers[query][key] = await call(query, key)()
            except SourceUnavailable:
                unavailable.add(query)

    # Every question runs to its end even when one fails: cancelling a look-up half-way helps nobody (they are
    # short) and would leave the sources' connections in an unknown state.
    outcomes = await asyncio.gather(*(ask(query, key) for query, key in sorted(plan.queries)), return_exceptions=True)
    for outcome in outcomes:
        if isinstance(outcome, BaseException):
            raise outcome

    return RegistryFacts(
        identity=answers[Query.identity],
        life_status=answers[Query.life_status],
        dtsen=answers[Query.dtsen_household],
        employment=answers[Query.employment],
        bpjs=answers[Query.bpjs],
        assets=answers[Query.assets],
        unavailable=frozenset(unavailable),
    )
