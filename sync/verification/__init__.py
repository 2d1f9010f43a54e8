"""The verification steps as pure functions: consent gate, identity, eligibility, decision. No I/O here.

The pipeline (``sync.cases``) gathers a :class:`~sync.verification.case.CaseFile` from the desa database, asks
:func:`~sync.verification.gate.plan_queries` which registry questions the consents allow, fetches exactly those
(:class:`~sync.verification.case.RegistryFacts`) and hands everything to
:func:`~sync.verification.decide.evaluate`, which returns a :class:`~sync.verification.verdict.Verdict`.
Same case file, same facts, same rule set: same verdict.
"""
