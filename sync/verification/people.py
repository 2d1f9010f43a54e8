"""Who is who in a household, for the rules and for the words read out to the family.

Explanations and reasons never carry a name or a NIK (they are read aloud, and they travel in documents): a person
is named by their place in the family, "kepala keluarga", "istri", "anak ke-2". Children (and every other kind
that occurs more than once) are numbered by birth order, oldest first, as a family counts them.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

from agent_forms.models import Household, Member, Sex
from agent_forms.models.base import age_on
from agent_forms.models.consent import ADULT_AGE
from agent_forms.models.household import Relationship

__all__ = ["ADULT_AGE", "age_on", "is_adult", "member_labels"]

_WORDS: dict[Relationship, str] = {
    Relationship.HEAD: "kepala keluarga",
    Relationship.CHILD: "anak",
    Relationship.CHILD_IN_LAW: "menantu",
    Relationship.GRANDCHILD: "cucu",
    Relationship.PARENT: "orang tua/mertua",
    Relationship.OTHER_RELATIVE: "famili lain",
    Relationship.HOUSEHOLD_HELP: "pembantu rumah tangga",
    Relationship.OTHER: "anggota keluarga lain",
}

#: How a person outside the household's list is called.
APPLICANT_OUTSIDE = "pemohon"
UNLISTED = "orang yang tidak tercatat di data keluarga"


def is_adult(member: Member, on: dt.date) -> bool:
    """18 or older on ``on`` (UU 35/2014; the same age at which a person consents for themself)."""
    return age_on(member.birth_date, on) >= ADULT_AGE


def _word(member: Member) -> str:
    if member.relationship is Relationship.SPOUSE:
        return "istri" if member.sex is Sex.FEMALE else "suami"
    return _WORDS[member.relationship]


def member_labels(household: Household) -> dict[str, str]:
    """NIK → relationship words, unique within the household ("anak ke-1", "anak ke-2", "istri")."""
    groups: dict[str, list[tuple[dt.date, int, Member]]] = defaultdict(list)
    for index, member in enumerate(household.members):
        groups[_word(member)].append((member.birth_date, index, member))
    labels: dict[str, str] = {}
    for word, people in groups.items():
        if len(people) == 1:
            labels[people[0][2].nik] = word
            continue
        for rank, (_, _, member) in enumerate(sorted(people, key=lambda p: (p[0], p[1])), start=1):
            labels[member.nik] = f"{word} ke-{rank}"
    return labels
