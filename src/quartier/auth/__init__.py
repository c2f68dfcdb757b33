"""Who is asking, and what they may do: principals, roles, API keys and the access rules.

A request's :class:`~quartier.auth.principal.Principal` is resolved once, by the access
gate (:mod:`quartier.auth.gate`), from the credentials it carries; today an API key
(:mod:`quartier.auth.keys`), later OIDC tokens, device credentials and dashboard sessions,
which only need to make a Principal of their own. What each role may do is one table of
data in :mod:`quartier.auth.access`.
"""
