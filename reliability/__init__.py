"""Reliability and security harness: faults and attacks tried against the real pipeline, counted.

``python -m reliability`` runs the slow test set (``tests/reliability``, marker
``reliability``) and regenerates ``docs/RELIABILITY.md`` from what the tests
measured (``results``, ``report``).
"""
