-- API keys (hashed at rest) and operator acknowledgements, owned by the API.
create table if not exists api_keys (
    id          uuid primary key default gen_random_uuid(),
    name        text not null,
    hash        text not null unique,          -- hex HMAC-SHA256(API_KEY_PEPPER, key); the key itself is never stored
    role        text not null check (role in ('viewer', 'operator', 'admin')),
    cameras     text[],                        -- null: every camera
    created_at  timestamptz not null default now(),
    expires_at  timestamptz,
    revoked_at  timestamptz
);

create table if not exists anomaly_acks (
    anomaly_id  uuid not null,                 -- no foreign key: the anomalies projection may be rebuilt from Kafka
    acked_by    text not null,                 -- principal subject (key:<id> or jwt:<sub>)
    note        text not null default '',
    acked_at    timestamptz not null default now(),
    primary key (anomaly_id, acked_by)
);
