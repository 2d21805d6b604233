"""Who may call what: API clients with hashed keys, roles, the authentication middleware and guards."""
