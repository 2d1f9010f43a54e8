"""Pydantic models of every document a device writes, versioned; see :mod:`agent_forms.models.registry`."""

from agent_forms.models.application import Application, ClaimedComponent, Component, Objection
from agent_forms.models.base import AttachmentKind, Choice, GeoPoint, Sex, Submission
from agent_forms.models.consent import Consent, ConsentPurpose, ConsentSource, ConsentWithdrawal
from agent_forms.models.field_visit import Evidence, FieldVisit, Photo
from agent_forms.models.household import Household, Member
from agent_forms.models.housing import HousingIndicators
from agent_forms.models.registry import FORMS, SERVER_OWNED_TYPES, SUBMISSION_TYPES, submission_adapter

__all__ = [
    "FORMS",
    "SERVER_OWNED_TYPES",
    "SUBMISSION_TYPES",
    "Application",
    "AttachmentKind",
    "Choice",
    "ClaimedComponent",
    "Component",
    "Consent",
    "ConsentPurpose",
    "ConsentSource",
    "ConsentWithdrawal",
    "Evidence",
    "FieldVisit",
    "GeoPoint",
    "Household",
    "HousingIndicators",
    "Member",
    "Objection",
    "Photo",
    "Sex",
    "Submission",
    "submission_adapter",
]
