-- A new version (upload with replace=true) names the documents it replaces; they stay searchable until it is indexed,
-- and are removed in the transaction that marks it indexed. Their vectors and stored files are removed after that
-- transaction, from document_removals, which the ingestion sweep finishes if the silo dies in between.

ALTER TABLE documents ADD COLUMN IF NOT EXISTS replaces uuid[] NOT NULL DEFAULT '{}';

CREATE TABLE IF NOT EXISTS document_removals (
    tenant_id    text NOT NULL REFERENCES tenants (id),
    document_id  uuid NOT NULL,
    object_key   text NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, document_id)
);
CREATE INDEX IF NOT EXISTS document_removals_age ON document_removals (created_at);
