"""Pages for people: sign-in, the assessments list and one assessment, server-rendered (no client framework)."""
