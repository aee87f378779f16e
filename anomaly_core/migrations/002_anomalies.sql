-- The anomalies projection, owned by the fusion sink (`anomaly projection sink`). One row per anomaly id holding
-- its newest revision; rebuilt from anomalies.v1 by `anomaly projection rebuild` (nothing here is primary data).
create table if not exists anomalies (
    anomaly_id      uuid primary key,                  -- uuid5(camera | incident start | rules version)
    camera_id       text not null,
    revision        integer not null check (revision >= 1),
    state           text not null check (state in ('CANDIDATE', 'OPEN', 'ONGOING', 'CLOSED')),
    incident_start  timestamptz not null,
    incident_end    timestamptz not null,
    window_start    timestamptz not null,
    window_end      timestamptz not null,
    severity        text not null check (severity in ('LOW', 'MEDIUM', 'HIGH', 'CRITICAL')),
    kinds           text[] not null,                   -- most severe first
    score           real not null,
    reasons         text[] not null,
    evidence        jsonb not null,                    -- the Avro-shaped Evidence record
    lineage         jsonb not null,                    -- the Avro-shaped LineageEntry list
    transcript      text,                              -- evidence.transcript_excerpt, for search and lists
    caption         text,                              -- evidence.caption
    rules_version   text not null,
    fusion_version  text not null,
    decided_at      timestamptz not null,
    created_at      timestamptz not null default clock_timestamp(),  -- first revision stored (alert latency)
    updated_at      timestamptz not null default clock_timestamp()
);

create index if not exists anomalies_camera_start_idx on anomalies (camera_id, incident_start desc);
create index if not exists anomalies_severity_start_idx on anomalies (severity, incident_start desc);
-- Keyset pagination: (incident_start desc, anomaly_id desc).
create index if not exists anomalies_start_id_idx on anomalies (incident_start desc, anomaly_id desc);
create index if not exists anomalies_kinds_idx on anomalies using gin (kinds);
