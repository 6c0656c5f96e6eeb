"""zhidu store: the PostgreSQL schema, its migrations and the read queries shared by the UI,
API, CLI and reports. Activities write; the starter reads."""
