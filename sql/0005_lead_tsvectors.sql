-- The first line of each document (its title), analysed once at indexing instead of at every query: lexical search
-- scores it apart, and analysing it per query cost more than the rest of the full-text search together.

ALTER TABLE chunks ADD COLUMN IF NOT EXISTS lead_tsv tsvector
    GENERATED ALWAYS AS (CASE WHEN chunk_index = 0 THEN to_tsvector('nexus_french'::regconfig, split_part(text, E'\n', 1)) END) STORED;
ALTER TABLE chunks ADD COLUMN IF NOT EXISTS lead_tsv_accents tsvector
    GENERATED ALWAYS AS (CASE WHEN chunk_index = 0 THEN to_tsvector('nexus_french_accents'::regconfig, split_part(text, E'\n', 1)) END) STORED;
