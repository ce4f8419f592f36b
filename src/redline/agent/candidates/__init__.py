"""Candidates: N replies to one task, each tried apart, the one that passes kept.

``policy`` runs the rounds, ``selection`` ranks (pure functions), ``checker``
checks each candidate in its own ``scratch`` copy, ``replies`` gets the N
replies from the provider, ``onereply`` hooks the policy into the one-reply
protocol, ``defaults`` says how many a task gets when nobody says.
"""
