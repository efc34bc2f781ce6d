-- A second French full-text column that stems the words as written (accents kept): the Snowball French stemmer
-- recognises accented suffixes ("-ité", "-ée", "-és"), which folding accents before stemming hides from it.
-- Lexical search adds its BM25 to that of the accent-folded column.

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_ts_config WHERE cfgname = 'nexus_french_accents') THEN
        CREATE TEXT SEARCH CONFIGURATION nexus_french_accents (COPY = pg_catalog.french);
    END IF;
END
$$;

ALTER TABLE chunks ADD COLUMN IF NOT EXISTS tsv_accents tsvector
    GENERATED ALWAYS AS (to_tsvector('nexus_french_accents'::regconfig, text)) STORED;
CREATE INDEX IF NOT EXISTS chunks_tsv_accents ON chunks USING gin (tsv_accents);
