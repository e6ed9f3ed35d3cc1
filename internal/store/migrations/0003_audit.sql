-- Command audit, file transfer audit and command filtering.

CREATE TABLE commands (
    id             {{serial}},
    session_id     TEXT NOT NULL,
    user_id        TEXT NOT NULL,
    username       TEXT NOT NULL,
    asset_id       TEXT NOT NULL,
    asset          TEXT NOT NULL,
    system_user_id TEXT NOT NULL,
    system_user    TEXT NOT NULL,
    input          TEXT NOT NULL,
    output         TEXT NOT NULL DEFAULT '',
    risk_level     BIGINT NOT NULL DEFAULT 0,
    action         TEXT NOT NULL DEFAULT 'accept',
    timestamp      TEXT NOT NULL
);
CREATE INDEX commands_timestamp ON commands (timestamp);
CREATE INDEX commands_session ON commands (session_id, timestamp);
CREATE INDEX commands_user ON commands (username, timestamp);
CREATE INDEX commands_asset ON commands (asset, timestamp);
CREATE INDEX commands_risk ON commands (risk_level, timestamp);

CREATE TABLE ftp_logs (
    id             {{serial}},
    session_id     TEXT NOT NULL,
    user_id        TEXT NOT NULL,
    username       TEXT NOT NULL,
    asset_id       TEXT NOT NULL,
    asset          TEXT NOT NULL,
    system_user_id TEXT NOT NULL,
    system_user    TEXT NOT NULL,
    remote_addr    TEXT NOT NULL,
    operation      TEXT NOT NULL,
    path           TEXT NOT NULL,
    path2          TEXT NOT NULL DEFAULT '',
    size           BIGINT NOT NULL DEFAULT 0,
    sha256         TEXT NOT NULL DEFAULT '',
    is_success     BOOLEAN NOT NULL,
    reason         TEXT NOT NULL DEFAULT '',
    datetime       TEXT NOT NULL
);
CREATE INDEX ftp_logs_datetime ON ftp_logs (datetime);
CREATE INDEX ftp_logs_user ON ftp_logs (username, datetime);

CREATE TABLE command_groups (
    id           TEXT PRIMARY KEY,
    name         TEXT NOT NULL UNIQUE,
    type         TEXT NOT NULL,
    content      TEXT NOT NULL,
    ignore_case  BOOLEAN NOT NULL DEFAULT TRUE,
    comment      TEXT NOT NULL DEFAULT '',
    created_by   TEXT NOT NULL DEFAULT '',
    date_created TEXT NOT NULL,
    date_updated TEXT NOT NULL
);

CREATE TABLE command_filters (
    id           TEXT PRIMARY KEY,
    name         TEXT NOT NULL UNIQUE,
    priority     BIGINT NOT NULL,
    action       TEXT NOT NULL,
    is_active    BOOLEAN NOT NULL DEFAULT TRUE,
    comment      TEXT NOT NULL DEFAULT '',
    created_by   TEXT NOT NULL DEFAULT '',
    date_created TEXT NOT NULL,
    date_updated TEXT NOT NULL
);

-- kind is users, user_groups, assets, system_users or command_groups.
CREATE TABLE command_filter_members (
    filter_id TEXT NOT NULL REFERENCES command_filters(id) ON DELETE CASCADE,
    kind      TEXT NOT NULL,
    member_id TEXT NOT NULL,
    PRIMARY KEY (filter_id, kind, member_id)
);
CREATE INDEX command_filter_members_member ON command_filter_members (kind, member_id);
