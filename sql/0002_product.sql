-- Product schema: tenants, users, documents, chunks with French full text, queries log, thread state.
-- Every tenant-owned row carries tenant_id; documents, batches, queries and threads carry caller_app.

CREATE EXTENSION IF NOT EXISTS unaccent;

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_ts_config WHERE cfgname = 'nexus_french') THEN
        CREATE TEXT SEARCH CONFIGURATION nexus_french (COPY = pg_catalog.french);
        -- unaccent first so that "médiation" and "mediation" stem to the same lexeme.
        ALTER TEXT SEARCH CONFIGURATION nexus_french
            ALTER MAPPING FOR hword, hword_part, word WITH unaccent, french_stem;
    END IF;
END
$$;

CREATE TABLE IF NOT EXISTS tenants (
    id          text PRIMARY KEY,
    name        text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS users (
    id             uuid PRIMARY KEY,
    tenant_id      text NOT NULL REFERENCES tenants (id),
    email          text NOT NULL,
    password_hash  text NOT NULL,
    role           text NOT NULL CHECK (role IN ('admin', 'member')),
    seeded_default boolean NOT NULL DEFAULT false,
    created_at     timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX IF NOT EXISTS users_email_key ON users (lower(email));

CREATE TABLE IF NOT EXISTS caller_apps (
    tenant_id   text NOT NULL REFERENCES tenants (id),
    name        text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, name)
);

CREATE TABLE IF NOT EXISTS ingest_batches (
    id           uuid PRIMARY KEY,
    tenant_id    text NOT NULL REFERENCES tenants (id),
    caller_app   text NOT NULL,
    status       text NOT NULL,
    total        integer NOT NULL,
    created_by   text NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    finished_at  timestamptz
);
CREATE INDEX IF NOT EXISTS ingest_batches_tenant ON ingest_batches (tenant_id, created_at DESC);

CREATE TABLE IF NOT EXISTS documents (
    id             uuid PRIMARY KEY,
    tenant_id      text NOT NULL REFERENCES tenants (id),
    caller_app     text NOT NULL,
    batch_id       uuid REFERENCES ingest_batches (id),
    filename       text NOT NULL,
    content_type   text,
    size_bytes     bigint NOT NULL,
    sha256         text,
    object_key     text NOT NULL,
    status         text NOT NULL,
    error_code     text,
    error_message  text,
    chunk_count    integer NOT NULL DEFAULT 0,
    attempts       integer NOT NULL DEFAULT 0,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS documents_tenant ON documents (tenant_id, caller_app, created_at DESC);
CREATE INDEX IF NOT EXISTS documents_batch ON documents (batch_id);

CREATE TABLE IF NOT EXISTS chunks (
    id               bigserial PRIMARY KEY,
    tenant_id        text NOT NULL REFERENCES tenants (id),
    document_id      uuid NOT NULL REFERENCES documents (id) ON DELETE CASCADE,
    chunk_index      integer NOT NULL,
    text             text NOT NULL,
    token_count      integer NOT NULL,
    embedding_model  text NOT NULL,
    embedding        real[] NOT NULL,
    tsv              tsvector GENERATED ALWAYS AS (to_tsvector('nexus_french'::regconfig, text)) STORED,
    created_at       timestamptz NOT NULL DEFAULT now(),
    UNIQUE (document_id, chunk_index)
);
CREATE INDEX IF NOT EXISTS chunks_tenant ON chunks (tenant_id);
CREATE INDEX IF NOT EXISTS chunks_tsv ON chunks USING gin (tsv);

CREATE TABLE IF NOT EXISTS settings (
    tenant_id   text NOT NULL REFERENCES tenants (id),
    key         text NOT NULL,
    value       jsonb NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, key)
);

CREATE TABLE IF NOT EXISTS queries_log (
    id                   uuid PRIMARY KEY,
    tenant_id            text NOT NULL REFERENCES tenants (id),
    caller_app           text NOT NULL,
    user_id              text NOT NULL,
    thread_id            text NOT NULL,
    question             text NOT NULL,
    retrieval_query      text NOT NULL,
    mode                 text NOT NULL,
    answer               text NOT NULL,
    followup_resolved    boolean NOT NULL DEFAULT false,
    followup_section_id  text,
    followup_ref_type    text,
    citations            jsonb NOT NULL DEFAULT '[]',
    model                text,
    suivi_status         text,
    error_code           text,
    latency_ms           integer NOT NULL,
    created_at           timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS queries_log_thread ON queries_log (tenant_id, caller_app, thread_id, created_at DESC);

CREATE TABLE IF NOT EXISTS thread_state (
    tenant_id      text NOT NULL REFERENCES tenants (id),
    caller_app     text NOT NULL,
    user_id        text NOT NULL,
    thread_id      text NOT NULL,
    last_outline   jsonb NOT NULL DEFAULT '[]',
    last_question  text,
    version        integer NOT NULL DEFAULT 0,
    updated_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, caller_app, user_id, thread_id)
);
CREATE INDEX IF NOT EXISTS thread_state_lookup ON thread_state (caller_app, thread_id, updated_at DESC);
