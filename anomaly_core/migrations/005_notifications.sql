-- The notify worker's state (`anomaly notify worker`). notify_alerts: what the worker knows of each alert between
-- its events (the newest revision seen, what operators did, the pending escalation). notifications: one row per
-- alert change and target, written before the input's offset is committed, so a restart or a rebalance never
-- notifies twice; the API lists them with the anomaly.
create table if not exists notify_alerts (
    anomaly_id        uuid primary key,
    camera_id         text not null,
    revision          integer not null default 0,      -- 0: an operator action seen before any event
    alert             jsonb,                           -- the alert as last seen (null until its first event)
    acknowledged_by   text,
    acknowledged_at   timestamptz,
    assignee          text,
    resolution        text,
    escalation_target text,                            -- who is told next if nobody acknowledges
    escalation_level  integer not null default 0,
    escalation_due    timestamptz,
    updated_at        timestamptz not null default clock_timestamp()
);

create index if not exists notify_alerts_escalation_idx on notify_alerts (escalation_due)
    where escalation_due is not null;

create table if not exists notifications (
    anomaly_id      uuid not null,
    step            text not null,                     -- r<revision> | a<action id> | e<escalation level>
    target          text not null,
    camera_id       text not null,
    revision        integer not null,
    channel         text not null,                     -- webhook | email | mqtt
    change          text not null,
    status          text not null check (status in ('sent', 'failed', 'quiet', 'rate_limited')),
    detail          text not null,
    attempts        integer not null default 0,
    latency_ms      real,
    idempotency_key text not null,
    created_at      timestamptz not null default clock_timestamp(),
    primary key (anomaly_id, step, target)
);

create index if not exists notifications_created_idx on notifications (created_at desc);
