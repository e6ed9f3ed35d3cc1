-- Text search over command lines without reading every row: a trigram index
-- (pg_trgm, part of PostgreSQL's standard contrib modules) on the lowercased
-- input, which answers the case-insensitive substring LIKE that ?search=
-- renders.

CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE INDEX commands_input_trgm ON commands USING gin (LOWER(input) gin_trgm_ops);
