-- Cameras, registered (upserted) by each producer when it starts; owned by the producers.
create table if not exists cameras (
    camera_id       text primary key check (camera_id ~ '^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$'),
    name            text not null,
    source          text not null,                  -- credentials are redacted before they get here
    source_kind     text not null check (source_kind in ('FILE', 'STREAM', 'WEBCAM')),
    location        text not null default '',
    created_at      timestamptz not null default now(),
    updated_at      timestamptz not null default now(),
    last_started_at timestamptz
);
