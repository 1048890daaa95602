"""Identity (Keystone v3): tokens, domains, projects, users, groups, roles, the catalog.

Every request to every service starts here: a client trades a password for a token
(``POST /v3/auth/tokens``), and each API validates that token through `identity.client`.
"""
