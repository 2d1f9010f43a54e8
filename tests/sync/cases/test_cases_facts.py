"""Running a query plan against the local registries: answers keyed as the rules expect, a source that is down
marks its questions unavailable, any other registry error is raised, and concurrency stays bounded."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest

from agent_forms import load_submission
from agent_forms.models import Application, Household
from registries.errors import InvalidQuery
from registries.models import EmploymentAnswer, Match
from registries.protocols import MinistriesData
from registries.sources import Sources
from sync.cases.facts import fetch_facts, identity_query
from sync.verification.case import CaseFile, Doc, Query, QueryPlan
from tests.sync.cases.cases_testkit import Family, Switchable

pytestmark = pytest.mark.anyio


def case_of(family: Family, *, with_household: bool = True) -> CaseFile:
    application = load_submission(family.application())
    household = load_submission(family.household())
    assert isinstance(application, Application) and isinstance(household, Household)
    return CaseFile(
        application=Doc(family.application_id, application),
        household=Doc(family.household_id, household) if with_household else None,
        consent=None,
    )


async def test_every_planned_question_is_answered_and_keyed_by_nik_or_kk(sources: Sources, family: Family) -> None:
    niks = family.niks
    plan = QueryPlan(
        queries=frozenset(
            {(Query.identity, nik) for nik in niks}
            | {(Query.life_status, nik) for nik in niks}
            | {(Query.employment, niks[0]), (Query.bpjs, niks[0]), (Query.assets, niks[0])}
            | {(Query.dtsen_household, family.kk_number)}
        )
    )
    facts = await fetch_facts(case_of(family), plan, sources, concurrency=3)
    assert set(facts.identity) == set(niks) == set(facts.life_status)
    assert all(answer.nik_found and answer.name is Match.match for answer in facts.identity.values())
    assert all(
        answer.kk_number is Match.match and answer.birth_date is Match.match for answer in facts.identity.values()
    )
    assert facts.dtsen[family.kk_number].households[0].desil == family.desil
    assert set(facts.employment) == set(facts.bpjs) == set(facts.assets) == {niks[0]}
    assert facts.unavailable == frozenset()


async def test_identity_is_asked_with_what_the_household_declares(family: Family) -> None:
    member = family.members[0]
    query = identity_query(case_of(family), member["nik"])
    assert (query.name, query.birth_date, query.kk_number) == (member["name"], member["birth_date"], family.kk_number)
    bare = identity_query(case_of(family, with_household=False), member["nik"])
    assert (bare.name, bare.birth_date, bare.kk_number) == (None, None, None)


async def test_a_source_that_is_down_marks_its_questions_unavailable_and_the_rest_are_answered(
    sources: Sources, family: Family
) -> None:
    assert isinstance(sources.population, Switchable)
    sources.population.down = True
    nik = family.niks[0]
    plan = QueryPlan(
        queries=frozenset({(Query.identity, nik), (Query.life_status, nik), (Query.dtsen_household, family.kk_number)})
    )
    facts = await fetch_facts(case_of(family), plan, sources)
    assert facts.unavailable == {Query.identity, Query.life_status}
    assert facts.identity == {} and facts.life_status == {}
    assert family.kk_number in facts.dtsen


async def test_a_question_the_source_refuses_is_raised(sources: Sources, family: Family) -> None:
    plan = QueryPlan(queries=frozenset({(Query.employment, "12345"), (Query.life_status, family.niks[0])}))
    with pytest.raises(InvalidQuery):
        await fetch_facts(case_of(family), plan, sources)


async def test_a_stopped_plan_asks_nothing(sources: Sources, family: Family) -> None:
    assert isinstance(sources.population, Switchable)
    plan = QueryPlan(queries=frozenset({(Query.identity, family.niks[0])}), stopped=True)
    facts = await fetch_facts(case_of(family), plan, sources)
    assert (facts.identity, sources.population.calls) == ({}, 0)


class _Counting:
    """Ministries' data that records how many questions are in flight at once."""

    def __init__(self, inner: MinistriesData) -> None:
        self.inner = inner
        self.active = 0
        self.most = 0

    async def employment(self, nik: str) -> EmploymentAnswer:
        self.active += 1
        self.most = max(self.most, self.active)
        await asyncio.sleep(0.01)
        self.active -= 1
        return EmploymentAnswer(nik=nik, records=[], source="test", as_of=dt.date(2025, 10, 1))


async def test_questions_run_concurrently_within_the_bound(sources: Sources, family: Family) -> None:
    counting = _Counting(sources.ministries)
    sources.ministries = counting  # type: ignore[assignment]
    plan = QueryPlan(queries=frozenset((Query.employment, f"35100000000000{i:02d}") for i in range(12)))
    facts = await fetch_facts(case_of(family), plan, sources, concurrency=3)
    assert len(facts.employment) == 12
    assert counting.most == 3
