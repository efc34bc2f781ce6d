-- Tenancy and BYOK: LLM providers, models and credentials per tenant; users can change their password.
-- Credentials hold Fernet tokens only; key_fingerprint names the LLM_CREDENTIALS_ENC_KEY entry that made each token.

ALTER TABLE users ADD COLUMN IF NOT EXISTS password_changed_at timestamptz;
-- Bumped by every password or role change: access tokens carry it, so older tokens stop working at once.
ALTER TABLE users ADD COLUMN IF NOT EXISTS security_stamp integer NOT NULL DEFAULT 0;

CREATE TABLE IF NOT EXISTS llm_providers (
    id          uuid NOT NULL,
    tenant_id   text NOT NULL REFERENCES tenants (id),
    name        text NOT NULL,
    kind        text NOT NULL CHECK (kind IN ('openrouter', 'openai_compatible')),
    base_url    text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (id),
    UNIQUE (tenant_id, id)
);
-- "OpenRouter" and "openrouter" are one provider.
CREATE UNIQUE INDEX IF NOT EXISTS llm_providers_name ON llm_providers (tenant_id, lower(name));

-- Composite foreign keys: a model or credential can only point at a provider of its own tenant.
CREATE TABLE IF NOT EXISTS llm_models (
    id           uuid PRIMARY KEY,
    tenant_id    text NOT NULL,
    provider_id  uuid NOT NULL,
    model        text NOT NULL,
    is_default   boolean NOT NULL DEFAULT false,
    created_at   timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (tenant_id, provider_id) REFERENCES llm_providers (tenant_id, id) ON DELETE CASCADE,
    UNIQUE (tenant_id, provider_id, model)
);
CREATE UNIQUE INDEX IF NOT EXISTS llm_models_one_default ON llm_models (tenant_id) WHERE is_default;

CREATE TABLE IF NOT EXISTS llm_credentials (
    id                 uuid PRIMARY KEY,
    tenant_id          text NOT NULL,
    provider_id        uuid NOT NULL,
    label              text NOT NULL,
    token              text NOT NULL,
    key_fingerprint    text NOT NULL,
    secret_hint        text NOT NULL,
    last_test_status   text,
    last_test_message  text,
    last_tested_at     timestamptz,
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (tenant_id, provider_id) REFERENCES llm_providers (tenant_id, id) ON DELETE CASCADE,
    UNIQUE (tenant_id, provider_id)
);
CREATE INDEX IF NOT EXISTS llm_credentials_fingerprint ON llm_credentials (key_fingerprint);

CREATE INDEX IF NOT EXISTS queries_log_tenant_time ON queries_log (tenant_id, created_at DESC);
