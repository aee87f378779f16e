-- Operator actions (anomalies.actions.v1) and where anomalies come from (AnomalyEvent.origin), owned by the
-- projection like the rest of `anomalies`: rebuilt from the topics by `anomaly projection rebuild`.
-- `anomaly_acks` (003) is no longer written: acknowledgements are ACKNOWLEDGE actions now.
create table if not exists anomaly_actions (
    action_id   uuid primary key,                  -- AnomalyAction.action_id: an action is applied once
    anomaly_id  uuid not null,                     -- no foreign key: actions and anomalies are projected apart
    camera_id   text not null,
    kind        text not null check (kind in ('ACKNOWLEDGE', 'ASSIGN', 'RESOLVE', 'NOTE')),
    actor       text not null,
    at          timestamptz not null,
    assignee    text,
    resolution  text check (resolution in ('TRUE_ALARM', 'FALSE_ALARM', 'TEST')),
    note        text
);

create index if not exists anomaly_actions_anomaly_idx on anomaly_actions (anomaly_id, at, action_id);
-- `anomaly backtest --labels`: resolutions by time.
create index if not exists anomaly_actions_resolutions_idx on anomaly_actions (at) where kind = 'RESOLVE';

-- What the actions made of each anomaly (derived from anomaly_actions by the projection, never written apart).
alter table anomalies
    add column if not exists origin          text not null default 'LIVE' check (origin in ('LIVE', 'ANALYZE')),
    add column if not exists run_id          text,
    add column if not exists status          text not null default 'NEW'
                                             check (status in ('NEW', 'ACKNOWLEDGED', 'RESOLVED')),
    add column if not exists acknowledged_by text,
    add column if not exists acknowledged_at timestamptz,
    add column if not exists assignee        text,
    add column if not exists resolution      text check (resolution in ('TRUE_ALARM', 'FALSE_ALARM', 'TEST')),
    add column if not exists resolved_by     text,
    add column if not exists resolved_at     timestamptz,
    add column if not exists notes           text[] not null default '{}';

create index if not exists anomalies_status_start_idx on anomalies (status, incident_start desc);
