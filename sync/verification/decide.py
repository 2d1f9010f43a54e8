"""The decision: every rule evaluated on the case file and the registry answers, with the data it rested on.

:func:`evaluate` is a pure function of its inputs. It never depends on the order of the case file's tuples or of the
facts' mappings (it sorts what it reads), so the same case gives byte-identical results however it was gathered.

The steps (DESIGN.md "Checks"), each adding :class:`~sync.verification.verdict.RuleResult` entries:

1. **Gather**: the application is there; a missing household or consent makes the case wait, with the content of
   the field task that would capture them (the pipeline decides when to raise it).
2. **Stopped**: the applicant withdrew all consent.
3. **Sources**: a source the plan needed that did not answer makes the case wait (retry); the other rules still run
   on what is there, and a rule whose data is missing is skipped rather than judged on an absence.
4. **Consent**: members who withdrew, checks the consents did not allow (skipped, with the reason). Without DTSEN or
   the population registry for the household, the case cannot be verified: a field visit re-confirms consent.
5. **Identity**: NIK hard and soft checks, the population registry's per-field match, life status, duplicates.
6. **Eligibility**: DTSEN membership and desil, components (declared data, then DTSEN), exclusions, assets, BPJS.
7. **Humans**: objections and field visits go to a supervisor; the supervisor's reviews of field evidence and
   decisions on the case (``review:`` documents) settle them.

Outcomes become a status by precedence: stopped > a supervisor's decision > waiting > needs_review >
needs_field_verification > not_eligible > eligible. A component claim that fails only removes that claim
(``eligibility.component``); the other failures decide the case. Missing or contradictory data is never a refusal:
it is ``unresolved``, and a field visit settles it.

**Contradicted, or not met.** A claim fails only when the data agree with each other and the rule is not met: a
child whose declared birth date makes them 25 claimed as a school child, a 45-year-old claimed as elderly (the age
is the one datum such a rule reads, and nothing contradicts it). When the application's claim and the household's
own data disagree — a component claimed for someone the household does not list, a pregnancy for a member recorded
as not pregnant or as a man, a school level or status other than the one claimed, a disability other than severe —
one of the two documents is wrong and only a visit can tell which: the claim is ``unresolved`` and its reason says
what to check. (Before, these claims failed, and a family whose only claims were of this kind was refused on data
that contradicted itself.) A claim whose age rule fails is failed even if its level also disagrees: no answer to
the disagreement could make it qualify. Claims for members the population registry records as deceased or moved
are not counted (a registry fact, not a contradiction of the device's data).

Reasons and explanations are in Bahasa Indonesia and name people only by their place in the family (see
:mod:`sync.verification.people`): they are read out to the family.

Decisions taken where the design is silent:

- A person counts for one component, the highest-valued one that qualifies (rule set ``one_component_per_member``);
  then each component's cap, then the maximum per family, highest-valued first, ties in the application's order.
- Declared data decide whether a claim qualifies; DTSEN can only contradict it (school level and years of
  schooling, "pregnant", disability "berat"). DTSEN has no postpartum status, so a postpartum claim and the age-only
  components (early childhood, elderly) are not compared with it. A DTSEN record withheld by the member's own
  consent is not used.
- Several DTSEN households for one KK: the most recently ranked one is used and the case goes to a field visit.
- Assets are compared only when the desil passed: they can only contradict a desil low enough for PKH.
- The indicative components are reported for ``eligible``, ``needs_review`` and ``needs_field_verification``; not for
  a refusal, nor for a case that waits or was stopped.
- An answer the plan needed but the facts lack counts as its source being down (the case waits), never as "not
  found".
- A plan that does not belong to the case (no DTSEN look-up of its KK, allowed or refused) is a programming error:
  :class:`ValueError`.
- A supervisor-approved field check (a visit recommending "eligible", or evidence attached to the application) that
  settles what the data left open also confirms the claims it left open: they are counted as the application states
  them (``eligibility.components_settled``), so a settled family is never "eligible" with no component.

**A supervisor's decision and the facts that came after it.** A ``review:`` document records the decision, the
reason, the reviewer and the time, not the facts the supervisor saw; the facts carry the date of the event they
report: a death its ``since``, an employment record its ``since``, a DTSEN household its ``ranking_date``. A fact
that weighs against the decision and is dated after the day of the review (in WIB, the registries' calendar) is
new to the supervisor: the decision no longer stands and the case goes back to ``needs_review``
(``review.facts_changed``, with the new facts and the decision as its data), so a supervisor decides again; it is
never overturned automatically. Against an ``eligible`` decision: the applicant's or a member's death, an excluding
employment record (ASN, TNI, Polri, …), a DTSEN ranking above the maximum desil; against a ``not_eligible`` one: a
DTSEN ranking within the maximum. The answers' own ``as_of`` is not used: it moves with every registry snapshot and
would re-open every decision at each update, whereas an event date only moves when the event does, so re-evaluating
with the same facts keeps the decision exactly, and a second decision after the new fact stands again. The limits:
a fact reported late with an event date on or before the review is taken as one the supervisor knew, and so is a
death the registry does not date.

**Evidence attached to the application** (no field visit) is reviewed like a visit's evidence, and read as the
answer to what the case was waiting for when it came after the latest visit (or there is none) and after the
supervisor's last decision on the case: rejected, the case needs a field visit again (``review.evidence_rejected``,
a new task), whatever else it waited for; approved, while the case would otherwise need a field visit, it settles
the open data as an approved visit recommending "eligible" does (``review.evidence_approved``; evidence carries no
recommendation, so a failed rule still refuses); not yet reviewed while the case would need a field visit, the
supervisor is asked to review it (``needs_review``). When the case waits for nothing it can answer, evidence is
information (``review.evidence``), approved or not yet reviewed, so photos taken at registration never stall a clean
case.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from agent_forms import nik as nik_rules
from agent_forms.models import Component, Evidence, FieldVisit, Household, Member, Sex
from agent_forms.models.field_visit import Recommendation
from agent_forms.models.household import Disability, MaternalStatus, SchoolLevel, SchoolStatus
from registries.models import (
    AssetsAnswer,
    DtsenHousehold,
    DtsenMember,
    EmploymentKind,
    LifeStatus,
    Match,
)
from sync.verification.case import CaseFile, Doc, Query, QueryPlan, RegistryFacts, Review, ReviewSubject
from sync.verification.gate import named_consent, withdrawal_matches
from sync.verification.people import APPLICANT_OUTSIDE, UNLISTED, age_on, is_adult, member_labels
from sync.verification.ruleset import RuleSet
from sync.verification.verdict import (
    ComponentBenefit,
    Datum,
    FieldTask,
    Outcome,
    RuleResult,
    Status,
    Verdict,
)

#: Source name of data read from the documents captured on a device; the datum's source is "perangkat/<doc id>".
DEVICE = "perangkat"
#: Source name of what the pipeline's own projection knows (the same NIK elsewhere in the kabupaten).
PROJECTION = "simpul"

#: How each source is named when a pendamping reads that a check waits for it or was not allowed.
SOURCE_WORDS: Mapping[Query, str] = {
    Query.identity: "data kependudukan (Dukcapil)",
    Query.life_status: "data kependudukan (Dukcapil)",
    Query.dtsen_household: "DTSEN (BPS)",
    Query.employment: "data kepegawaian (BKN dan instansi terkait)",
    Query.bpjs: "BPJS Kesehatan dan BPJS Ketenagakerjaan",
    Query.assets: "data aset (ATR/BPN dan Polri)",
}

COMPONENT_WORDS: Mapping[Component, str] = {
    Component.PREGNANT_POSTPARTUM: "ibu hamil/nifas",
    Component.EARLY_CHILDHOOD: "anak usia dini",
    Component.SD: "anak sekolah SD",
    Component.SMP: "anak sekolah SMP",
    Component.SMA: "anak sekolah SMA",
    Component.SEVERE_DISABILITY: "penyandang disabilitas berat",
    Component.ELDERLY: "lanjut usia",
}

EMPLOYMENT_WORDS: Mapping[EmploymentKind, str] = {
    EmploymentKind.asn: "ASN (PNS/PPPK)",
    EmploymentKind.tni: "anggota TNI",
    EmploymentKind.polri: "anggota Polri",
    EmploymentKind.state_paid: "pegawai yang digaji rutin dari APBN/APBD",
    EmploymentKind.bumn_bumd: "pegawai BUMN/BUMD",
    EmploymentKind.village_official: "perangkat desa",
    EmploymentKind.certified_teacher: "guru bersertifikat",
    EmploymentKind.certified_health_worker: "tenaga kesehatan bersertifikat",
}

_SCHOOL_LEVELS: Mapping[Component, SchoolLevel] = {
    Component.SD: SchoolLevel.SD,
    Component.SMP: SchoolLevel.SMP,
    Component.SMA: SchoolLevel.SMA,
}

#: School levels as a pendamping says them.
_LEVEL_WORDS: Mapping[SchoolLevel, str] = {
    SchoolLevel.NONE: "tidak sekolah",
    SchoolLevel.PAUD: "PAUD",
    SchoolLevel.SD: "SD",
    SchoolLevel.SMP: "SMP",
    SchoolLevel.SMA: "SMA",
    SchoolLevel.HIGHER: "perguruan tinggi",
}

_BPJS_SEGMENTS = {
    "pbi": "PBI (iuran dibayar pemerintah)",
    "ppu": "PPU (pekerja penerima upah)",
    "pbpu": "PBPU (pekerja bukan penerima upah)",
    "bp": "BP (bukan pekerja)",
}

#: A failure of these rules removes one claim, not the family.
_CLAIM_RULES = frozenset({"eligibility.component"})

_CAPTURE_ORDER = ("household", "consent", "field_visit", "evidence")

_COMPONENT_BY_VALUE: Mapping[str, Component] = {c.value: c for c in Component}

_WITH_COMPONENTS = frozenset({Status.eligible, Status.needs_review, Status.needs_field_verification})

#: Banyuwangi's time zone: the calendar of the registries' dates, against which a review's day is read.
WIB = dt.timezone(dt.timedelta(hours=7), "WIB")


def rupiah(amount: int) -> str:
    """``3000000`` → ``Rp3.000.000`` (Indonesian grouping)."""
    return "Rp" + f"{amount:,}".replace(",", ".")


def _device(doc: Doc[Any]) -> str:
    return f"{DEVICE}/{doc.id}"


def _sentence(text: str) -> str:
    text = text.strip()
    text = text[:1].upper() + text[1:]
    return text if text.endswith((".", "!", "?")) else text + "."


def _join(words: Sequence[str]) -> str:
    """``a``, ``a dan b``, ``a, b, dan c``."""
    if len(words) <= 2:
        return " dan ".join(words)
    return ", ".join(words[:-1]) + ", dan " + words[-1]


@dataclass(frozen=True, slots=True)
class _Claim:
    index: int
    component: Component
    nik: str
    amount: int


class _Evaluation:
    """One evaluation: the inputs, the rules found so far, and what later steps need from earlier ones."""

    def __init__(self, case: CaseFile, plan: QueryPlan, facts: RegistryFacts, rules: RuleSet) -> None:
        self.case = case
        self.plan = plan
        self.facts = facts
        self.rules = rules
        #: Source of the data a rule set supplies (limits, amounts).
        self.rule_source = f"aturan/{rules.version}"
        self.reference = case.reference_date
        self.application = case.application.body
        self.applicant = self.application.applicant_nik
        self.results: list[RuleResult] = []
        #: Members not counted for components: deceased, moved out, or who withdrew consent.
        self.not_counted: dict[str, str] = {}
        #: A consent must be re-confirmed on a visit (capture "consent").
        self.consent_needed = False
        #: The supervisor's decision on the case, when it stands (no objection or visit recorded after it).
        self.supervisor: Doc[Review] | None = None
        #: An approved field visit recommending "eligible" settled what the data left unresolved.
        self.field_settled = False
        self.unavailable: frozenset[Query] = frozenset()
        self.dtsen: DtsenHousehold | None = None
        self.dtsen_source: tuple[str, dt.date] | None = None
        self.desil_ok = False
        self.counted: list[ComponentBenefit] = []
        #: Claims that qualify on the data, and claims the data left open (contradicted or not checkable).
        self.passed_claims: list[_Claim] = []
        self.open_claims: list[_Claim] = []
        #: Claims already recorded as left out by the limits (``eligibility.component_limit``).
        self.limited: set[int] = set()
        #: Registry facts a supervisor's decision may not have known (see the module docstring): deaths by NIK with
        #: their date, excluding employment records by NIK.
        self.deaths: dict[str, tuple[dt.date | None, list[Datum]]] = {}
        self.excluding: list[tuple[str, dt.date, str, list[Datum]]] = []
        # Set once the household is known.
        self.household: Doc[Household] | None = case.household
        self.members: dict[str, Member] = {}
        self.labels: dict[str, str] = {}
        if case.household is not None:
            self.members = {m.nik: m for m in case.household.body.members}
            self.labels = member_labels(case.household.body)

    # -- helpers ---------------------------------------------------------------------------------------------

    def add(
        self,
        rule: str,
        outcome: Outcome,
        reason: str,
        data: Iterable[Datum] = (),
        member_nik: str | None = None,
    ) -> RuleResult:
        result = RuleResult(rule, outcome, _sentence(reason), tuple(data), member_nik)
        self.results.append(result)
        return result

    def label(self, nik: str) -> str:
        if nik in self.labels:
            return self.labels[nik]
        return APPLICANT_OUTSIDE if nik == self.applicant else UNLISTED

    def declared(self, name: str, value: Any) -> Datum:
        assert self.household is not None
        return Datum(name, value, _device(self.household), self.household.body.captured_at.date())

    def applied(self, name: str, value: Any) -> Datum:
        return Datum(name, value, _device(self.case.application), self.reference)

    def age(self, member: Member) -> int:
        return age_on(member.birth_date, self.reference)

    def planned(self, query: Query, key: str) -> bool:
        return (query, key) in self.plan.queries

    def refused(self, query: Query, key: str) -> bool:
        return (query, key) in self.plan.refused

    def people(self) -> list[str]:
        """Every person the checks are about, in household order, then the applicant if not listed."""
        niks = list(self.members)
        return niks if self.applicant in self.members else [*niks, self.applicant]

    def skip_for_consent(self, rule: str, query: Query, nik: str) -> None:
        self.add(
            rule,
            Outcome.skipped,
            f"Tidak diperiksa ke {SOURCE_WORDS[query]} untuk {self.label(nik)}: persetujuan untuk sumber ini "
            "tidak diberikan atau sudah ditarik",
            member_nik=nik,
        )

    def gated(self, rule: str, query: Query, nik: str) -> Any | None:
        """The answer to ``query`` about ``nik``; None after recording why there is none (``rule`` skipped: no
        consent for it, or its source is down), or when it was not asked."""
        if self.refused(query, nik):
            self.skip_for_consent(rule, query, nik)
            return None
        if query in self.unavailable:
            self.skip_for_source(rule, query, nik)
            return None
        return self.answer(query, nik)

    def skip_for_source(self, rule: str, query: Query, nik: str | None) -> None:
        self.add(
            rule,
            Outcome.skipped,
            f"Menunggu jawaban {SOURCE_WORDS[query]}" + (f" untuk {self.label(nik)}" if nik else ""),
            member_nik=nik,
        )

    # -- the run ---------------------------------------------------------------------------------------------

    def run(self) -> Verdict:
        self.gather()
        if self.plan.stopped:
            return self.stopped()
        if self.case.household is None or named_consent(self.case) is None:
            return self.missing_documents()
        self.sources()
        self.consents()
        self.identity()
        self.eligibility()
        self.humans()
        return self.verdict()

    # -- 1. gather -------------------------------------------------------------------------------------------

    def gather(self) -> None:
        app = self.case.application
        self.add(
            "gather.application",
            Outcome.passed,
            "Pengajuan diterima",
            [self.applied("components_claimed", len(self.application.components))],
        )
        consent = self.case.consent
        if consent is not None and named_consent(self.case) is None:
            self.add(
                "gather.consent",
                Outcome.unresolved,
                "Persetujuan yang dirujuk pengajuan bukan persetujuan pemohon (NIK berbeda); mohon rekam persetujuan "
                "pemohon sendiri",
                [Datum("consent", consent.id, _device(consent), consent.body.captured_at.date())],
                member_nik=self.applicant,
            )
        for doc_type, doc, missing in (
            ("household", self.case.household, "Data keluarga (KK dan anggota keluarga) belum diterima"),
            ("consent", consent, "Persetujuan pemrosesan data pemohon belum diterima"),
        ):
            if doc_type == "consent" and doc is not None and named_consent(self.case) is None:
                continue  # said above
            if doc is None:
                ref = self.application.household_id if doc_type == "household" else self.application.consent_id
                self.add(f"gather.{doc_type}", Outcome.unresolved, missing, [Datum(doc_type, ref, _device(app), None)])
            else:
                self.add(
                    f"gather.{doc_type}",
                    Outcome.passed,
                    "Data keluarga diterima" if doc_type == "household" else "Persetujuan pemohon diterima",
                    [Datum(doc_type, doc.id, _device(doc), doc.body.captured_at.date())],
                )

    def stopped(self) -> Verdict:
        if self.applicant in self.case.restricted:
            self.add(
                "consent.applicant_restricted",
                Outcome.info,
                "Pemrosesan data pemohon dibatasi atas permintaannya (UU 27/2022); pemeriksaan dihentikan",
                member_nik=self.applicant,
            )
            return Verdict(
                status=Status.stopped,
                rule_set_version=self.rules.version,
                rules=tuple(self.results),
                explanation=(
                    "Pemrosesan pengajuan ini dihentikan sementara atas permintaan yang bersangkutan untuk membatasi "
                    "pemrosesan datanya. Pemeriksaan dilanjutkan bila pembatasan dicabut."
                ),
            )
        self.add(
            "consent.applicant_withdrawn",
            Outcome.info,
            "Pemohon menarik seluruh persetujuan pemrosesan data; pemeriksaan dihentikan",
            [
                Datum("withdrawal", w.id, _device(w), w.body.captured_at.date())
                for w in sorted(self.case.withdrawals, key=lambda w: (w.body.captured_at, w.id))
                if w.body.subject_nik == self.applicant and withdrawal_matches(self.case, w)
            ],
            member_nik=self.applicant,
        )
        return Verdict(
            status=Status.stopped,
            rule_set_version=self.rules.version,
            rules=tuple(self.results),
            explanation=(
                "Pemrosesan pengajuan ini dihentikan atas permintaan yang bersangkutan, yang menarik persetujuan "
                "pemrosesan datanya. Data keluarga tidak lagi diperiksa ke sumber mana pun."
            ),
        )

    def missing_documents(self) -> Verdict:
        capture = tuple(
            t for t, doc in (("household", self.case.household), ("consent", named_consent(self.case))) if doc is None
        )
        reasons = tuple(r.reason for r in self.results if r.outcome is Outcome.unresolved)
        borrowed = self.case.consent is not None  # named, but another person's (see gather)
        words = {
            "household": "data keluarga",
            "consent": "persetujuan pemohon sendiri" if borrowed else "persetujuan pemohon",
        }
        missing = _join([words[t] for t in capture])
        return Verdict(
            status=Status.waiting,
            rule_set_version=self.rules.version,
            rules=tuple(self.results),
            explanation=(
                f"Pengajuan sudah diterima, tetapi {missing} belum diterima server. "
                "Pemeriksaan dilanjutkan otomatis setelah data tersebut terkirim dari perangkat pendamping."
            ),
            task=FieldTask(
                reasons=(*reasons, "Mohon rekam atau kirim ulang dokumen yang belum diterima."),
                capture=capture,
            ),
            retry=True,
        )

    # -- 3. sources ------------------------------------------------------------------------------------------

    def _answers(self, query: Query) -> Mapping[str, Any]:
        f = self.facts
        return {
            Query.identity: f.identity,
            Query.life_status: f.life_status,
            Query.dtsen_household: f.dtsen,
            Query.employment: f.employment,
            Query.bpjs: f.bpjs,
            Query.assets: f.assets,
        }[query]

    def sources(self) -> None:
        """A source the plan needed is unavailable when the pipeline says so, or when an answer it should have
        fetched is missing: a decision never rests on an answer that was not given."""
        needed = {q for q, _ in self.plan.queries}
        missing = {q for q, key in self.plan.queries if key not in self._answers(q)}
        self.unavailable = frozenset((self.facts.unavailable & needed) | missing)
        seen_words: set[str] = set()
        for query in Query:
            if query not in self.unavailable or SOURCE_WORDS[query] in seen_words:
                continue
            seen_words.add(SOURCE_WORDS[query])
            self.add(
                f"source.{query.value}",
                Outcome.skipped,
                f"{SOURCE_WORDS[query]} belum dapat dihubungi; pemeriksaan akan dicoba lagi",
            )

    def answer(self, query: Query, key: str) -> Any | None:
        """The answer to a planned, answered question; None when it was not asked or its source is down."""
        if not self.planned(query, key) or query in self.unavailable:
            return None
        return self._answers(query).get(key)

    # -- 4. consents -----------------------------------------------------------------------------------------

    def consents(self) -> None:
        for nik in self.people():
            if nik in self.plan.withdrawn:
                restricted = nik in self.case.restricted
                self.not_counted[nik] = "pemrosesan dibatasi" if restricted else "menarik persetujuan"
                self.add(
                    "consent.member_restricted" if restricted else "consent.member_withdrawn",
                    Outcome.info,
                    f"{self.label(nik)} "
                    + ("meminta pembatasan pemrosesan" if restricted else "menarik persetujuan")
                    + ": datanya tidak diperiksa dan tidak dihitung sebagai komponen",
                    member_nik=nik,
                )
        withdrawals = {w.id: w for w in self.case.withdrawals if w.body.desa == self.application.desa}  # held ones
        for nik, withdrawal_id in sorted(self.plan.held_withdrawals):
            held = withdrawals[withdrawal_id]
            self.add(
                "consent.withdrawal_unmatched",
                Outcome.review,
                f"Ada penarikan persetujuan untuk {self.label(nik)}, tetapi nama atau tanggal lahir di dalamnya tidak "
                "cocok dengan data keluarga; datanya tidak diperiksa sampai supervisor memastikannya",
                [Datum("withdrawal", held.id, _device(held), held.body.captured_at.date())],
                member_nik=nik,
            )
        assert self.household is not None
        kk = self.household.body.kk_number
        refused = [
            query
            for query, key in ((Query.dtsen_household, kk), (Query.identity, self.applicant))
            if self.refused(query, key)
        ]
        if refused:
            self.consent_needed = True
            self.add(
                "consent.household",
                Outcome.unresolved,
                f"Persetujuan pemeriksaan {_join([SOURCE_WORDS[q] for q in refused])} tidak diberikan, sehingga "
                "keluarga tidak dapat diverifikasi; mohon konfirmasi ulang persetujuan pemohon",
                member_nik=self.applicant,
            )

    # -- 5. identity -----------------------------------------------------------------------------------------

    def identity(self) -> None:
        self.applicant_listed()
        claimed = list(dict.fromkeys([self.applicant, *(c.member_nik for c in self.application.components)]))
        for nik in claimed:
            self.nik_checks(nik)
        for nik in self.people():
            if nik in self.plan.withdrawn:
                continue
            self.registry_match(nik)
            self.life_status(nik)
        self.duplicates()

    def applicant_listed(self) -> None:
        if self.applicant in self.members:
            self.add(
                "identity.applicant_member",
                Outcome.passed,
                f"Pemohon tercatat sebagai anggota keluarga ({self.label(self.applicant)})",
                member_nik=self.applicant,
            )
        else:
            self.add(
                "identity.applicant_member",
                Outcome.unresolved,
                "Pemohon tidak tercatat sebagai anggota keluarga pada data keluarga",
                [self.applied("applicant_nik", self.applicant)],
                member_nik=self.applicant,
            )

    def nik_checks(self, nik: str) -> None:
        label = self.label(nik)
        hard = nik_rules.nik_errors(nik)
        if hard:
            self.add(
                "identity.nik",
                Outcome.unresolved,
                f"NIK {label} tidak sah: {hard[0].message}",
                [self.applied("nik_problems", [p.code for p in hard])],
                member_nik=nik,
            )
            return
        self.add("identity.nik", Outcome.passed, f"Susunan NIK {label} sah", member_nik=nik)
        member = self.members.get(nik)
        warnings = nik_rules.nik_warnings(
            nik_rules.parse_nik(nik),
            declared_sex=member.sex.value if member else None,
            declared_birth_date=member.birth_date if member else None,
        )
        for problem in warnings:
            data = [self.declared("birth_date", member.birth_date)] if member is not None else []
            self.add(
                "identity.nik_soft",
                Outcome.info,
                f"{label}: {_soft_message(problem.code, problem.message)}",
                [*data, self.applied("warning", problem.code)],
                member_nik=nik,
            )

    def registry_match(self, nik: str) -> None:
        label = self.label(nik)
        ans = self.gated("identity.registry", Query.identity, nik)
        if ans is None:
            return
        data = [Datum("nik_found", ans.nik_found, ans.source, ans.as_of)]
        if not ans.nik_found:
            self.add(
                "identity.registry",
                Outcome.unresolved,
                f"NIK {label} tidak ditemukan di data kependudukan",
                data,
                member_nik=nik,
            )
            return
        for field in ("name", "birth_date", "kk_number"):
            match = getattr(ans, field)
            if match is not None:
                data.append(Datum(field, match.value, ans.source, ans.as_of))
        problems = []
        if ans.name is Match.no_match:
            problems.append(f"nama {label} tidak sesuai data kependudukan")
        if ans.kk_number is Match.no_match:
            problems.append(f"{label} tidak tercatat pada nomor KK ini di data kependudukan")
        if problems:
            self.add("identity.registry", Outcome.unresolved, "; ".join(problems), data, member_nik=nik)
        else:
            self.add(
                "identity.registry", Outcome.passed, f"Identitas {label} sesuai data kependudukan", data, member_nik=nik
            )
        if ans.birth_date is Match.no_match:
            self.add(
                "identity.birth_date",
                Outcome.info,
                f"Tanggal lahir {label} berbeda dengan data kependudukan; NIK tidak berubah bila tanggal lahir "
                "dikoreksi, jadi ini hanya dicatat",
                [Datum("birth_date", Match.no_match.value, ans.source, ans.as_of)],
                member_nik=nik,
            )

    def life_status(self, nik: str) -> None:
        label = self.label(nik)
        if self.refused(Query.life_status, nik):
            return  # same source as identity: its skip is already recorded
        if Query.life_status in self.unavailable:
            self.skip_for_source("identity.life_status", Query.life_status, nik)
            return
        ans = self.answer(Query.life_status, nik)
        if ans is None:
            return
        data = [Datum("life_status", ans.status.value, ans.source, ans.as_of)]
        if ans.since is not None:
            data.append(Datum("since", ans.since, ans.source, ans.as_of))
        if ans.status is LifeStatus.alive:
            self.add("identity.life_status", Outcome.passed, f"{label} tercatat masih hidup", data, member_nik=nik)
        elif ans.status is LifeStatus.not_found:
            self.add(
                "identity.life_status",
                Outcome.unresolved,
                f"Status {label} tidak ditemukan di data kependudukan",
                data,
                member_nik=nik,
            )
        else:
            what = "meninggal dunia" if ans.status is LifeStatus.deceased else "pindah keluar daerah"
            self.not_counted.setdefault(nik, f"tercatat {what}")
            if ans.status is LifeStatus.deceased:
                self.deaths[nik] = (ans.since, data)
            self.add(
                "identity.life_status",
                Outcome.info,
                f"{label} tercatat {what} di data kependudukan; tidak dihitung sebagai komponen",
                data,
                member_nik=nik,
            )
            if nik == self.applicant and ans.status is LifeStatus.deceased:
                self.add(
                    "identity.applicant_deceased",
                    Outcome.review,
                    "Pemohon tercatat meninggal dunia; supervisor memutuskan kelanjutan pengajuan",
                    data,
                    member_nik=nik,
                )

    def duplicates(self) -> None:
        assert self.household is not None
        own_household = self.household.id
        for other in sorted(self.case.elsewhere, key=lambda o: (o.nik, o.household_id, o.application_id or "", o.desa)):
            label = self.label(other.nik)
            if other.household_id == own_household and other.application_id:
                where = "pengajuan lain untuk keluarga yang sama"
            elif other.application_id:
                where = "pengajuan keluarga lain"
            else:
                where = "data keluarga lain"
            data = [
                Datum("household_id", other.household_id, PROJECTION, None),
                Datum("desa", other.desa, PROJECTION, None),
            ]
            if other.application_id:
                data.append(Datum("application_id", other.application_id, PROJECTION, None))
            self.add(
                "identity.duplicate",
                Outcome.review,
                f"NIK {label} juga tercatat di {where} di kabupaten ini; supervisor memeriksa data ganda",
                data,
                member_nik=other.nik,
            )

    # -- 6. eligibility --------------------------------------------------------------------------------------

    def eligibility(self) -> None:
        self.dtsen_household()
        self.components()
        self.exclusions()
        self.assets()
        self.bpjs()

    def dtsen_household(self) -> None:
        assert self.household is not None
        kk = self.household.body.kk_number
        if self.refused(Query.dtsen_household, kk):
            self.add(
                "eligibility.dtsen",
                Outcome.skipped,
                "Tidak diperiksa ke DTSEN: persetujuan untuk sumber ini tidak diberikan atau sudah ditarik",
            )
            return
        if Query.dtsen_household in self.unavailable:
            self.skip_for_source("eligibility.dtsen", Query.dtsen_household, None)
            return
        if not self.planned(Query.dtsen_household, kk):
            # Every plan for a case with a household either looks the household up or says why not: a plan
            # without either was made for another case, and deciding on it could pass a family DTSEN never saw.
            raise ValueError("the query plan does not belong to this case: no DTSEN look-up of its KK number")
        ans = self.facts.dtsen[kk]
        if not ans.households:
            self.add(
                "eligibility.dtsen",
                Outcome.unresolved,
                "Keluarga belum terdaftar di DTSEN; perlu survei lapangan untuk pendataan",
                [Datum("dtsen_found", False, ans.source, ans.as_of), self.declared("kk_number", kk)],
            )
            return
        ranked = sorted(ans.households, key=lambda h: (h.ranking_date, h.dtsen_id))
        self.dtsen = ranked[-1]
        self.dtsen_source = (ans.source, ans.as_of)
        found = [
            Datum("dtsen_id", self.dtsen.dtsen_id, ans.source, ans.as_of),
            Datum("ranking_date", self.dtsen.ranking_date, ans.source, ans.as_of),
        ]
        if len(ranked) > 1:
            self.add(
                "eligibility.dtsen",
                Outcome.unresolved,
                f"Nomor KK keluarga tercatat pada {len(ranked)} keluarga di DTSEN; perlu dipastikan di lapangan",
                [Datum("dtsen_households", len(ranked), ans.source, ans.as_of), *found],
            )
        else:
            self.add("eligibility.dtsen", Outcome.passed, "Keluarga terdaftar di DTSEN", found)
        desil, limit = self.dtsen.desil, self.rules.max_desil
        data = [Datum("desil", desil, ans.source, ans.as_of), Datum("max_desil", limit, self.rule_source, None)]
        if desil > limit:
            self.add(
                "eligibility.desil",
                Outcome.failed,
                f"Keluarga berada pada desil {desil} DTSEN, di atas batas desil {limit} untuk PKH",
                data,
            )
        else:
            self.desil_ok = True
            self.add(
                "eligibility.desil",
                Outcome.passed,
                f"Keluarga berada pada desil {desil} DTSEN (batas PKH: desil {limit})",
                data,
            )

    def dtsen_member(self, nik: str) -> DtsenMember | None:
        if self.dtsen is None or nik in self.plan.dtsen_withheld:
            return None
        return next((m for m in self.dtsen.members if m.nik == nik), None)

    def dtsen_datum(self, name: str, value: Any) -> Datum:
        assert self.dtsen_source is not None
        return Datum(name, value, *self.dtsen_source)

    def components(self) -> None:
        passed: list[_Claim] = []
        unresolved = False
        for index, claim in enumerate(self.application.components):
            component, nik = claim.component, claim.member_nik
            what = f"{COMPONENT_WORDS[component]} untuk {self.label(nik)}"
            member = self.members.get(nik)
            base = [self.applied("component", component.value)]
            if member is None:
                # The application names someone its own household data do not list: one of the two is wrong.
                unresolved = True
                self.open_claims.append(_Claim(index, component, nik, self.rules.amount(component)))
                whom = (
                    UNLISTED
                    if self.label(nik) == UNLISTED
                    else f"{self.label(nik)}, yang tidak tercatat di data keluarga"
                )
                self.add(
                    "eligibility.component",
                    Outcome.unresolved,
                    f"Komponen {COMPONENT_WORDS[component]} diajukan untuk {whom}; pastikan apakah ia anggota "
                    "keluarga ini dan perbarui data keluarga atau pengajuan",
                    [*base, self.declared("listed_in_household", False)],
                    member_nik=nik,
                )
                continue
            if nik in self.not_counted:
                outcome = Outcome.skipped if nik in self.plan.withdrawn else Outcome.failed
                self.add(
                    "eligibility.component",
                    outcome,
                    f"Komponen {what} tidak dihitung: {self.label(nik)} {self.not_counted[nik]}",
                    base,
                    member_nik=nik,
                )
                continue
            problem, check, data = self.declared_component(component, member)
            if problem is not None and check is not None:
                unresolved = True
                self.open_claims.append(_Claim(index, component, nik, self.rules.amount(component)))
                self.add(
                    "eligibility.component",
                    Outcome.unresolved,
                    f"Komponen {what}: {problem}; {check}",
                    [*base, *data],
                    member_nik=nik,
                )
                continue
            if problem is not None:
                self.add(
                    "eligibility.component",
                    Outcome.failed,
                    f"Komponen {what} tidak terpenuhi: {problem}",
                    [*base, *data],
                    member_nik=nik,
                )
                continue
            if self.refused(Query.identity, nik) and not self.refused(Query.identity, self.applicant):
                unresolved = True
                self.consent_needed = True
                self.open_claims.append(_Claim(index, component, nik, self.rules.amount(component)))
                self.add(
                    "eligibility.component",
                    Outcome.unresolved,
                    f"Komponen {what}: identitasnya belum dapat diperiksa karena persetujuan data kependudukan "
                    "tidak diberikan; mohon konfirmasi ulang persetujuan",
                    [*base, *data],
                    member_nik=nik,
                )
                continue
            contradiction, dtsen_data = self.dtsen_component(component, nik)
            if contradiction is not None:
                unresolved = True
                self.open_claims.append(_Claim(index, component, nik, self.rules.amount(component)))
                self.add(
                    "eligibility.component",
                    Outcome.unresolved,
                    f"Komponen {what}: {contradiction}; perlu dipastikan di lapangan",
                    [*base, *data, *dtsen_data],
                    member_nik=nik,
                )
                continue
            amount = self.rules.amount(component)
            self.add(
                "eligibility.component",
                Outcome.passed,
                f"Komponen {what} terpenuhi",
                [*base, *data, *dtsen_data, Datum("yearly_amount", amount, self.rule_source, None)],
                member_nik=nik,
            )
            passed.append(_Claim(index, component, nik, amount))

        self.passed_claims = passed
        counted = self.count(passed)
        self.counted = [ComponentBenefit(c.component.value, c.nik, c.amount, c.index in counted) for c in passed]
        total = sum(c.amount for c in passed if c.index in counted)
        if counted:
            self.add(
                "eligibility.components",
                Outcome.passed,
                f"{len(counted)} komponen dihitung; perkiraan bantuan {rupiah(total)} setahun",
                [
                    Datum("components_counted", len(counted), self.rule_source, None),
                    Datum("max_components", self.rules.max_components, self.rule_source, None),
                    Datum("yearly_benefit", total, self.rule_source, None),
                ],
            )
        elif unresolved:
            self.add(
                "eligibility.components",
                Outcome.info,
                "Belum ada komponen yang dapat dipastikan sebelum kunjungan lapangan",
            )
        else:
            self.add(
                "eligibility.components",
                Outcome.failed,
                "Tidak ada anggota keluarga yang memenuhi komponen PKH",
                [Datum("components_claimed", len(self.application.components), _device(self.case.application), None)],
            )

    def count(self, claims: list[_Claim]) -> set[int]:
        """Which qualifying claims are counted: one component per person (when the rule set says so), each
        component up to its cap, then the highest-valued up to the maximum; ties keep the application's order.

        A claim left out is recorded once (``eligibility.component_limit``), even when a settled field check counts
        again with more claims (:meth:`count_settled`)."""
        by_value = sorted(claims, key=lambda c: (-c.amount, c.index))
        kept: list[_Claim] = []
        people: set[str] = set()
        per_component: dict[Component, int] = {}
        for claim in by_value:
            cap = self.rules.components[claim.component].max_count
            label = f"{COMPONENT_WORDS[claim.component]} untuk {self.label(claim.nik)}"
            reason: str | None = None
            if self.rules.one_component_per_member and claim.nik in people:
                reason = "satu orang hanya dihitung untuk satu komponen"
            elif cap is not None and per_component.get(claim.component, 0) >= cap:
                reason = f"komponen {COMPONENT_WORDS[claim.component]} dihitung paling banyak {cap} kali"
            elif len(kept) >= self.rules.max_components:
                reason = f"paling banyak {self.rules.max_components} komponen dihitung, yang nilainya tertinggi"
            if reason is not None:
                if claim.index not in self.limited:
                    self.limited.add(claim.index)
                    self.add(
                        "eligibility.component_limit",
                        Outcome.info,
                        f"Komponen {label} tidak dihitung: {reason}",
                        [Datum("component", claim.component.value, self.rule_source, None)],
                        member_nik=claim.nik,
                    )
                continue
            kept.append(claim)
            people.add(claim.nik)
            per_component[claim.component] = per_component.get(claim.component, 0) + 1
        return {c.index for c in kept}

    def count_settled(self) -> None:
        """A supervisor-approved field check settled the case: the claims the data left open count as applied."""
        if not self.open_claims:
            return
        claims = sorted([*self.passed_claims, *self.open_claims], key=lambda c: c.index)
        counted = self.count(claims)
        self.counted = [ComponentBenefit(c.component.value, c.nik, c.amount, c.index in counted) for c in claims]
        total = sum(c.amount for c in claims if c.index in counted)
        self.add(
            "eligibility.components_settled",
            Outcome.passed,
            f"Komponen yang dipastikan di lapangan ikut dihitung: {len(counted)} komponen; perkiraan bantuan "
            f"{rupiah(total)} setahun",
            [
                Datum("components_settled", len(self.open_claims), self.rule_source, None),
                Datum("components_counted", len(counted), self.rule_source, None),
                Datum("yearly_benefit", total, self.rule_source, None),
            ],
        )

    def declared_component(self, component: Component, member: Member) -> tuple[str | None, str | None, list[Datum]]:
        """Does ``member`` qualify for ``component`` on the household's declared data?

        ``(problem, check, data)``: no problem, the claim qualifies; a problem without ``check``, the data agree and
        the rule is not met (the claim fails); a problem with ``check``, the application's claim and the household's
        own data contradict each other and ``check`` says what a visit must establish (the claim is unresolved).
        Age rules read the birth date alone, so they are never contradicted here and are checked first: a claim
        failing its age rule cannot qualify whatever else a visit finds.
        """
        age = self.age(member)
        age_datum = self.declared("age", age)
        if component is Component.PREGNANT_POSTPARTUM:
            data = [
                self.declared("sex", member.sex.value),
                self.declared("maternal_status", member.maternal_status.value),
            ]
            claimed = "pengajuan menyebut sedang hamil atau nifas"
            if member.sex is not Sex.FEMALE:
                return (
                    f"{claimed}, tetapi data keluarga mencatatnya sebagai laki-laki",
                    "pastikan siapa yang hamil atau nifas, lalu perbaiki data keluarga atau pengajuan",
                    data,
                )
            if member.maternal_status is MaternalStatus.NONE:
                return (
                    f"{claimed}, tetapi data keluarga mencatatnya tidak hamil atau nifas",
                    "pastikan kehamilan atau masa nifasnya (buku KIA)",
                    data,
                )
            return None, None, data
        if component is Component.EARLY_CHILDHOOD:
            limit = self.rules.early_childhood_max_age
            if age > limit:
                return f"berusia {age} tahun, di atas {limit} tahun", None, [age_datum]
            return None, None, [age_datum]
        if component in _SCHOOL_LEVELS:
            level = _SCHOOL_LEVELS[component]
            data = [
                age_datum,
                self.declared("school_level", member.school_level.value),
                self.declared("school_status", member.school_status.value),
            ]
            span = self.rules.school_age
            if age not in span:
                return f"berusia {age} tahun, di luar usia sekolah {span.min}–{span.max} tahun", None, data
            if member.school_level is not level or member.school_status is not SchoolStatus.ENROLLED:
                recorded = (
                    "tidak pernah bersekolah"
                    if member.school_level is SchoolLevel.NONE
                    else f"jenjang {_LEVEL_WORDS[member.school_level]}, {member.school_status.label.lower()}"
                )
                return (
                    f"pengajuan menyebut sedang bersekolah di jenjang {_LEVEL_WORDS[level]}, tetapi data keluarga "
                    f"mencatat {recorded}",
                    "pastikan jenjang dan status sekolahnya (kartu pelajar, rapor, atau surat keterangan sekolah)",
                    data,
                )
            return None, None, data
        if component is Component.SEVERE_DISABILITY:
            data = [self.declared("disability", member.disability.value)]
            if member.disability is not Disability.SEVERE:
                recorded = "tanpa disabilitas" if member.disability is Disability.NONE else "disabilitas ringan/sedang"
                return (
                    f"pengajuan menyebut disabilitas berat, tetapi data keluarga mencatatnya {recorded}",
                    "pastikan tingkat disabilitasnya (surat keterangan disabilitas)",
                    data,
                )
            return None, None, data
        # Component.ELDERLY
        limit = self.rules.elderly_age
        if age < limit:
            return f"berusia {age} tahun, belum {limit} tahun", None, [age_datum]
        return None, None, [age_datum]

    def dtsen_component(self, component: Component, nik: str) -> tuple[str | None, list[Datum]]:
        """Does DTSEN contradict a claim that qualifies on the declared data? Only when DTSEN has the member."""
        dm = self.dtsen_member(nik)
        if dm is None:
            return None, []
        if component in _SCHOOL_LEVELS:
            level = _SCHOOL_LEVELS[component].value
            data = [
                self.dtsen_datum("school_level", dm.school_level),
                self.dtsen_datum("years_of_schooling", dm.years_of_schooling),
            ]
            if dm.school_level != level:
                now = f"di jenjang {dm.school_level.upper()}" if dm.school_level else "tidak sedang bersekolah"
                return f"menurut DTSEN {now}", data
            if dm.years_of_schooling >= self.rules.completed_schooling_years:
                return (
                    f"menurut DTSEN sudah menempuh {dm.years_of_schooling} tahun sekolah "
                    f"(batas {self.rules.completed_schooling_years} tahun)",
                    data,
                )
            return None, data
        member = self.members[nik]
        if component is Component.PREGNANT_POSTPARTUM and member.maternal_status is MaternalStatus.PREGNANT:
            data = [self.dtsen_datum("pregnant", dm.pregnant)]
            return (None if dm.pregnant else "menurut DTSEN tidak sedang hamil"), data
        if component is Component.SEVERE_DISABILITY:
            data = [self.dtsen_datum("disability", dm.disability)]
            return (None if dm.disability == "berat" else "menurut DTSEN bukan penyandang disabilitas berat"), data
        return None, []

    def adults(self) -> list[str]:
        return [
            nik for nik, m in self.members.items() if is_adult(m, self.reference) and nik not in self.plan.withdrawn
        ]

    def exclusions(self) -> None:
        for nik in self.adults():
            label = self.label(nik)
            ans = self.gated("eligibility.exclusion", Query.employment, nik)
            if ans is None:
                continue
            records = sorted(ans.records, key=lambda r: (r.kind.value, r.since, r.source))
            excluding = [r for r in records if self.rules.excludes(r.kind, active=r.active, retired=r.retired)]
            for r in excluding:
                kind = EMPLOYMENT_WORDS[r.kind]
                status = f"{kind} yang masih aktif" if r.active else f"pensiunan {kind}"
                data = [
                    Datum("employment_kind", r.kind.value, r.source, r.as_of),
                    Datum("active", r.active, r.source, r.as_of),
                    Datum("retired", r.retired, r.source, r.as_of),
                    Datum("since", r.since, r.source, r.as_of),
                ]
                self.excluding.append((nik, r.since, status, data))
                self.add(
                    "eligibility.exclusion",
                    Outcome.failed,
                    f"{label} tercatat sebagai {status}; keluarga dengan anggota seperti ini tidak termasuk "
                    "sasaran PKH",
                    data,
                    member_nik=nik,
                )
            if not excluding:
                self.add(
                    "eligibility.exclusion",
                    Outcome.passed,
                    f"Tidak ada catatan pekerjaan {label} yang mengecualikan keluarga dari PKH",
                    [
                        Datum("employment_records", len(records), ans.source, ans.as_of),
                        *(Datum("employment_kind", r.kind.value, r.source, r.as_of) for r in records),
                    ],
                    member_nik=nik,
                )

    def assets(self) -> None:
        for nik in self.people():
            if not (self.planned(Query.assets, nik) or self.refused(Query.assets, nik)):
                continue
            ans = self.gated("eligibility.assets", Query.assets, nik)
            if ans is not None:
                self.asset_check(nik, ans)

    def asset_check(self, nik: str, ans: AssetsAnswer) -> None:
        label = self.label(nik)
        limits = self.rules.asset_contradictions
        cars = sorted((v for v in ans.vehicles if v.kind == "mobil"), key=lambda v: (v.year, v.source))
        power = sorted(
            (e for e in ans.electricity if not e.subsidised and e.va >= limits.min_non_subsidised_va),
            key=lambda e: (e.va, e.source),
        )
        farm = sorted((p for p in ans.land if p.kind in limits.farm_land_kinds), key=lambda p: (p.area_m2, p.source))
        farm_m2 = sum(p.area_m2 for p in farm)
        found: list[str] = []
        data: list[Datum] = []
        if len(cars) >= limits.min_cars:
            found.append(f"{len(cars)} mobil")
            data += [Datum("car_year", v.year, v.source, v.as_of) for v in cars]
        if power:
            found.append(f"listrik {power[-1].va} VA nonsubsidi")
            data += [Datum("electricity_va", e.va, e.source, e.as_of) for e in power]
        if farm_m2 >= limits.min_farm_land_m2:
            found.append(f"lahan pertanian {farm_m2:,} m²".replace(",", "."))
            data += [Datum("farm_land_m2", p.area_m2, p.source, p.as_of) for p in farm]
        if not self.desil_ok:
            self.add(
                "eligibility.assets",
                Outcome.info,
                f"Data aset {label} tidak dibandingkan dengan desil: desil keluarga belum memenuhi atau belum "
                "diketahui",
                data or [Datum("assets_found", False, ans.source, ans.as_of)],
                member_nik=nik,
            )
        elif found:
            self.add(
                "eligibility.assets",
                Outcome.unresolved,
                f"Menurut data aset, {label} memiliki {_join(found)}, tidak sejalan dengan desil keluarga; "
                "perlu dipastikan di lapangan",
                data,
                member_nik=nik,
            )
        else:
            self.add(
                "eligibility.assets",
                Outcome.passed,
                f"Data aset {label} sejalan dengan desil keluarga",
                [Datum("assets_found", False, ans.source, ans.as_of)],
                member_nik=nik,
            )

    def bpjs(self) -> None:
        for nik in self.people():
            if not self.planned(Query.bpjs, nik) and not self.refused(Query.bpjs, nik):
                continue
            ans = self.gated("info.bpjs", Query.bpjs, nik)
            if ans is None:
                continue
            segment = _BPJS_SEGMENTS.get(ans.kesehatan_segment or "", ans.kesehatan_segment or "")
            kesehatan = f"peserta segmen {segment}" if ans.kesehatan_segment else "bukan peserta"
            tk = "peserta aktif" if ans.ketenagakerjaan_active else "bukan peserta aktif"
            self.add(
                "info.bpjs",
                Outcome.info,
                f"BPJS {self.label(nik)}: BPJS Kesehatan {kesehatan}; BPJS Ketenagakerjaan {tk}",
                [
                    Datum("kesehatan_segment", ans.kesehatan_segment, ans.source, ans.as_of),
                    Datum("ketenagakerjaan_active", ans.ketenagakerjaan_active, ans.source, ans.as_of),
                ],
                member_nik=nik,
            )

    # -- 7. humans -------------------------------------------------------------------------------------------

    def humans(self) -> None:
        """Objections, field visits, evidence and the supervisors' reviews of them (``case.reviews``).

        A supervisor's decision on the case settles it, unless the family objected, a visit or evidence was recorded
        after it, or a registry fact dated after it weighs against it (:meth:`facts_since`). Field evidence all
        approved lets the visit's recommendation settle what the data left unresolved (a recommendation that
        contradicts a failed rule goes back to the supervisor); evidence rejected asks for a new visit; evidence not
        yet reviewed waits for the supervisor. Evidence attached to the application: :meth:`application_evidence`.
        """
        decision = self.latest_review(ReviewSubject.case, self.case.application.id)
        decided_at = decision.body.reviewed_at if decision else None

        def answered(captured_at: dt.datetime) -> bool:
            return decided_at is not None and captured_at <= decided_at

        later_input = False
        for objection in sorted(self.case.objections, key=lambda d: (d.body.captured_at, d.id)):
            done = answered(objection.body.captured_at)
            later_input |= not done
            self.add(
                "review.objection",
                Outcome.info if done else Outcome.review,
                "Keberatan keluarga sudah diputuskan supervisor"
                if done
                else "Keluarga mengajukan keberatan atas keputusan; supervisor akan memutuskan",
                [
                    Datum(
                        "grounds",
                        sorted(g.value for g in objection.body.grounds),
                        _device(objection),
                        objection.body.captured_at.date(),
                    ),
                ],
                member_nik=objection.body.objector_nik,
            )
        evidence_for: dict[str, list[Doc[Evidence]]] = {}
        for ev in sorted(self.case.evidence, key=lambda d: d.id):
            if ev.body.field_visit_id is not None:
                evidence_for.setdefault(ev.body.field_visit_id, []).append(ev)
        visits = sorted(self.case.field_visits, key=lambda d: (d.body.visited_at, d.id))
        for visit in visits:
            when = visit.body.captured_at.date()
            evidence = evidence_for.get(visit.id, [])
            data = [
                Datum("recommendation", visit.body.recommendation.value, _device(visit), when),
                Datum("address_found", visit.body.address_found, _device(visit), when),
                Datum("visited_on", visit.body.visited_at.date(), _device(visit), when),
                Datum("photos", sum(len(ev.body.photos) for ev in evidence), _device(visit), when),
            ]
            if visit is not visits[-1] or answered(visit.body.captured_at):
                self.add("review.field_visit", Outcome.info, "Kunjungan lapangan sebelumnya sudah ditinjau", data)
                continue
            later_input = True
            reviews = [self.latest_review(ReviewSubject.evidence, ev.id) for ev in evidence]
            if not evidence or any(review is None for review in reviews):
                self.add(
                    "review.field_visit",
                    Outcome.review,
                    "Hasil kunjungan lapangan sudah diterima; bukti menunggu persetujuan supervisor",
                    data,
                )
                continue
            reviewed = [review for review in reviews if review is not None]
            data += [self.review_datum(r) for r in reviewed]
            rejected = [r for r in reviewed if r.body.decision == "rejected"]
            if rejected:
                self.add(
                    "review.evidence_rejected",
                    Outcome.unresolved,
                    f"Bukti kunjungan ditolak supervisor ({rejected[0].body.reason.rstrip('.')}); kunjungan ulang "
                    "diperlukan",
                    data,
                )
            else:
                self.field_approved(visit, data)
        later_input |= self.application_evidence(visits[-1] if visits else None, answered)
        if decision is not None and not later_input:
            changes = self.facts_since(decision)
            if changes:
                word = "layak" if decision.body.decision == Status.eligible else "belum memenuhi syarat"
                self.add(
                    "review.facts_changed",
                    Outcome.review,
                    f"Setelah supervisor memutuskan keluarga {word}, ada data baru: {_join([c for c, _ in changes])}; "
                    "supervisor akan memutuskan ulang",
                    [self.decision_datum(decision), *(d for _, data in changes for d in data)],
                )
            else:
                self.supervisor = decision
                self.add(
                    "review.supervisor",
                    Outcome.passed if decision.body.decision == Status.eligible else Outcome.failed,
                    f"Diputuskan supervisor: {decision.body.reason.rstrip('.')}",
                    [self.decision_datum(decision)],
                )

    @staticmethod
    def review_datum(review: Doc[Review]) -> Datum:
        return Datum(
            f"review:{review.body.evidence_id}", review.body.decision, "supervisor", review.body.reviewed_at.date()
        )

    @staticmethod
    def decision_datum(decision: Doc[Review]) -> Datum:
        return Datum("decision", decision.body.decision, "supervisor", decision.body.reviewed_at.date())

    def application_evidence(
        self, latest_visit: Doc[FieldVisit] | None, answered: Callable[[dt.datetime], bool]
    ) -> bool:
        """Evidence attached to the application itself (no visit), read as described in the module docstring.

        Only evidence captured after the latest visit and after the supervisor's decision is the case's current
        answer; earlier evidence was followed by a visit or a decision and is information. Returns whether the
        current evidence is new input a standing decision of the supervisor must give way to.
        """
        loose = sorted(
            (ev for ev in self.case.evidence if ev.body.field_visit_id is None),
            key=lambda d: (d.body.captured_at, d.id),
        )
        after = latest_visit.body.captured_at if latest_visit is not None else None
        current = [
            ev for ev in loose if not answered(ev.body.captured_at) and (after is None or ev.body.captured_at > after)
        ]
        earlier = [ev for ev in loose if ev not in current]
        if earlier:
            self.add(
                "review.evidence",
                Outcome.info,
                "Bukti foto untuk pengajuan ini sebelumnya sudah ditinjau",
                [self.photos_datum(ev) for ev in earlier],
            )
        if not current:
            return False
        reviews = [self.latest_review(ReviewSubject.evidence, ev.id) for ev in current]
        data = [self.photos_datum(ev) for ev in current] + [self.review_datum(r) for r in reviews if r is not None]
        rejected = [r for r in reviews if r is not None and r.body.decision == "rejected"]
        if rejected:
            # Like a visit's evidence rejected: the supervisor does not accept what the case rests on, and a visit
            # must establish it, whatever an earlier approved visit settled.
            self.field_settled = False
            self.add(
                "review.evidence_rejected",
                Outcome.unresolved,
                f"Bukti foto untuk pengajuan ditolak supervisor ({rejected[0].body.reason.rstrip('.')}); kunjungan "
                "lapangan diperlukan",
                data,
            )
            return True
        waiting = not self.field_settled and any(r.outcome is Outcome.unresolved for r in self.results)
        pending = any(r is None for r in reviews)
        if not waiting:
            self.add(
                "review.evidence",
                Outcome.info,
                "Bukti foto untuk pengajuan ini sudah diterima" + ("" if pending else " dan disetujui supervisor"),
                data,
            )
            return False
        if pending:
            self.add(
                "review.evidence",
                Outcome.review,
                "Bukti foto untuk pengajuan ini sudah diterima; bukti menunggu persetujuan supervisor",
                data,
            )
            return True
        self.field_settled = True
        self.add(
            "review.evidence_approved",
            Outcome.passed,
            "Bukti foto untuk pengajuan disetujui supervisor dan menjawab hal yang perlu dipastikan",
            data,
        )
        return True

    @staticmethod
    def photos_datum(ev: Doc[Evidence]) -> Datum:
        return Datum("photos", len(ev.body.photos), _device(ev), ev.body.captured_at.date())

    def facts_since(self, decision: Doc[Review]) -> list[tuple[str, list[Datum]]]:
        """Registry facts dated after the day of the supervisor's decision that weigh against it, each as (words,
        data); see the module docstring for why event dates, and why only facts against the decision."""
        day = decision.body.reviewed_at.astimezone(WIB).date()
        changes: list[tuple[str, list[Datum]]] = []
        dtsen = self.dtsen
        limit = self.rules.max_desil
        reranked = dtsen is not None and dtsen.ranking_date > day
        if decision.body.decision == Status.eligible:
            for nik in self.people():
                since, data = self.deaths.get(nik, (None, []))
                if since is not None and since > day:
                    changes.append((f"{self.label(nik)} tercatat meninggal dunia", data))
            for nik, since, status, data in sorted(self.excluding, key=lambda e: (e[0], e[1], e[2])):
                if since > day:
                    changes.append((f"{self.label(nik)} tercatat sebagai {status}", data))
            if reranked and dtsen is not None and dtsen.desil > limit:
                changes.append(
                    (f"desil keluarga di DTSEN kini {dtsen.desil}, di atas batas desil {limit}", self.ranking_data())
                )
        elif reranked and dtsen is not None and dtsen.desil <= limit:
            changes.append(
                (f"desil keluarga di DTSEN kini {dtsen.desil}, dalam batas desil {limit}", self.ranking_data())
            )
        return changes

    def ranking_data(self) -> list[Datum]:
        assert self.dtsen is not None
        return [
            self.dtsen_datum("desil", self.dtsen.desil),
            self.dtsen_datum("ranking_date", self.dtsen.ranking_date),
            Datum("max_desil", self.rules.max_desil, self.rule_source, None),
        ]

    def field_approved(self, visit: Doc[FieldVisit], data: list[Datum]) -> None:
        """The latest visit's evidence is approved: its recommendation settles what the data left open."""
        recommendation = visit.body.recommendation
        if recommendation is Recommendation.ELIGIBLE:
            failed = [r for r in self.results if r.outcome is Outcome.failed and r.rule not in _CLAIM_RULES]
            if failed:
                self.add(
                    "review.field_conflict",
                    Outcome.review,
                    "Kunjungan lapangan yang disetujui menyatakan layak, tetapi data sumber menyatakan tidak; "
                    "supervisor akan memutuskan",
                    data,
                )
                return
            self.field_settled = True
            self.add(
                "review.field_visit_approved",
                Outcome.passed,
                "Kunjungan lapangan disetujui supervisor dan menyatakan keluarga layak",
                data,
            )
        elif recommendation is Recommendation.NOT_ELIGIBLE:
            self.add(
                "review.field_visit_approved",
                Outcome.failed,
                "Kunjungan lapangan yang disetujui supervisor menyatakan keluarga tidak layak",
                data,
            )
        elif recommendation is Recommendation.REVISIT:
            self.add("review.field_visit_approved", Outcome.unresolved, "Pendamping meminta kunjungan ulang", data)
        else:
            self.add(
                "review.field_visit_approved",
                Outcome.review,
                "Pendamping meminta supervisor memutuskan setelah kunjungan lapangan",
                data,
            )

    def latest_review(self, subject: ReviewSubject, target: str) -> Doc[Review] | None:
        reviews = [
            r
            for r in self.case.reviews
            if r.body.subject is subject
            and (r.body.evidence_id if subject is ReviewSubject.evidence else r.body.application_id) == target
        ]
        return max(reviews, key=lambda r: (r.body.reviewed_at, r.id)) if reviews else None

    # -- the verdict -----------------------------------------------------------------------------------------

    def status(self) -> Status:
        outcomes = {r.outcome for r in self.results}
        if self.supervisor is not None:
            return Status(self.supervisor.body.decision)
        if self.unavailable:
            return Status.waiting
        if Outcome.review in outcomes:
            return Status.needs_review
        if Outcome.unresolved in outcomes and not self.field_settled:
            return Status.needs_field_verification
        if any(r.outcome is Outcome.failed and r.rule not in _CLAIM_RULES for r in self.results):
            return Status.not_eligible
        return Status.eligible

    def verdict(self) -> Verdict:
        status = self.status()
        if self.field_settled and status in _WITH_COMPONENTS:
            self.count_settled()
        task = None
        if status is Status.needs_field_verification:
            reasons = tuple(dict.fromkeys(r.reason for r in self.results if r.outcome is Outcome.unresolved))
            capture = {"field_visit", "evidence", *(["consent"] if self.consent_needed else [])}
            task = FieldTask(reasons=reasons, capture=tuple(t for t in _CAPTURE_ORDER if t in capture))
        # Indicative benefits only where they can still be paid out of this case: not for a refusal, nor for a
        # case still waiting (its DTSEN comparisons may not have run).
        components = tuple(self.counted) if status in _WITH_COMPONENTS else ()
        return Verdict(
            status=status,
            rule_set_version=self.rules.version,
            rules=tuple(self.results),
            explanation=self.explain(status),
            components=components,
            task=task,
            retry=status is Status.waiting,
        )

    def first(self, outcome: Outcome, keep: Callable[[RuleResult], bool] = lambda r: True) -> list[str]:
        return [r.reason.rstrip(".") for r in self.results if r.outcome is outcome and keep(r)]

    def explain(self, status: Status) -> str:
        if self.supervisor is not None:
            word = "layak" if status is Status.eligible else "belum memenuhi syarat"
            counted = [c for c in self.counted if c.counted]
            benefit = (
                f" Perkiraan bantuan {rupiah(sum(c.yearly_amount for c in counted))} setahun; ini hanya informasi, "
                "bukan janji pembayaran."
                if status is Status.eligible and counted
                else ""
            )
            return (
                f"Supervisor telah meninjau pengajuan ini dan memutuskan keluarga {word} menerima PKH. "
                f"Alasan: {_sentence(self.supervisor.body.reason)}{benefit}"
            )
        if status is Status.waiting:
            names = list(dict.fromkeys(SOURCE_WORDS[q] for q in Query if q in self.unavailable))
            return (
                f"Pemeriksaan sedang menunggu {_join(names)}, yang belum dapat dihubungi. "
                "Pemeriksaan akan dilanjutkan otomatis; keluarga tidak perlu mengajukan ulang."
            )
        if status is Status.needs_review:
            # New facts after a supervisor's decision come first: they are why the case is back with a supervisor.
            reasons = self.first(Outcome.review, lambda r: r.rule == "review.facts_changed") or self.first(
                Outcome.review
            )
            return (
                f"Pengajuan ini akan diputuskan oleh supervisor. {_sentence(reasons[0])} "
                "Pendamping akan menyampaikan hasilnya."
            )
        if status is Status.needs_field_verification:
            reasons = self.first(Outcome.unresolved)
            more = f" Ada {len(reasons) - 1} hal lain yang juga perlu dipastikan." if len(reasons) > 1 else ""
            return (
                f"Data keluarga perlu dipastikan melalui kunjungan lapangan. {_sentence(reasons[0])}{more} "
                "Ini belum merupakan penolakan."
            )
        if status is Status.not_eligible:
            reasons = self.first(Outcome.failed, lambda r: r.rule not in _CLAIM_RULES)
            return (
                f"Keluarga belum memenuhi syarat PKH menurut data yang diperiksa. {_sentence(reasons[0])} "
                "Bila keluarga merasa keputusan ini keliru, keluarga dapat mengajukan keberatan melalui pendamping."
            )
        counted = [c for c in self.counted if c.counted]
        words = [f"{COMPONENT_WORDS[_COMPONENT_BY_VALUE[c.component]]} ({self.label(c.member_nik)})" for c in counted]
        total = sum(c.yearly_amount for c in counted)
        return (
            "Keluarga memenuhi syarat PKH menurut data yang diperiksa. "
            f"Komponen yang dihitung: {_join(words)}. "
            f"Perkiraan bantuan {rupiah(total)} setahun; ini hanya informasi, bukan janji pembayaran."
        )


def _soft_message(code: str, message: str) -> str:
    """Soft-check messages without the decoded birth date (personal data that need not travel in a result)."""
    if code == "nik.birth_date_mismatch":
        return "tanggal lahir menurut NIK berbeda dengan tanggal lahir yang diisi (hanya dicatat)"
    if code == "nik.sex_mismatch":
        return "jenis kelamin menurut NIK berbeda dengan yang diisi (hanya dicatat)"
    return message[:1].lower() + message[1:]


def evaluate(case: CaseFile, plan: QueryPlan, facts: RegistryFacts, rules: RuleSet) -> Verdict:
    """The verdict on ``case`` given what the consents allowed (``plan``) and what the sources answered (``facts``).

    Deterministic: the same case file, plan, facts and rule set give the same verdict, byte for byte once
    serialised with :meth:`~sync.verification.verdict.Verdict.to_result`.
    """
    return _Evaluation(case, plan, facts, rules).run()
