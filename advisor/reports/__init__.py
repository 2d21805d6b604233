"""Pure renderings of stored records for people (no I/O, no clock): shared by the API and the CLI."""
