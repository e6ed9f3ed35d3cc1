-- Core schema: identity, inventory, permissions, audit logs, sessions.
-- Times are TEXT in query.TimeLayout (fixed-width UTC) in both databases.

CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE users (
    id              TEXT PRIMARY KEY,
    username        TEXT NOT NULL UNIQUE,
    name            TEXT NOT NULL,
    email           TEXT NOT NULL DEFAULT '',
    phone           TEXT NOT NULL DEFAULT '',
    role            TEXT NOT NULL,
    is_active       BOOLEAN NOT NULL DEFAULT TRUE,
    date_expired    TEXT,
    password_hash   TEXT NOT NULL DEFAULT '',
    password_set_at TEXT,
    otp_secret      TEXT NOT NULL DEFAULT '',
    otp_enabled     BOOLEAN NOT NULL DEFAULT FALSE,
    otp_last_step   BIGINT NOT NULL DEFAULT 0,
    failed_logins   BIGINT NOT NULL DEFAULT 0,
    failed_since    TEXT,
    locked_until    TEXT,
    last_login      TEXT,
    comment         TEXT NOT NULL DEFAULT '',
    created_by      TEXT NOT NULL DEFAULT '',
    date_created    TEXT NOT NULL,
    date_updated    TEXT NOT NULL
);

CREATE TABLE user_groups (
    id           TEXT PRIMARY KEY,
    name         TEXT NOT NULL UNIQUE,
    comment      TEXT NOT NULL DEFAULT '',
    created_by   TEXT NOT NULL DEFAULT '',
    date_created TEXT NOT NULL,
    date_updated TEXT NOT NULL
);

CREATE TABLE user_group_members (
    group_id TEXT NOT NULL REFERENCES user_groups(id) ON DELETE CASCADE,
    user_id  TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    PRIMARY KEY (group_id, user_id)
);
CREATE INDEX user_group_members_user ON user_group_members (user_id);

CREATE TABLE user_public_keys (
    user_id     TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    fingerprint TEXT NOT NULL,
    line        TEXT NOT NULL,
    position    BIGINT NOT NULL,
    PRIMARY KEY (user_id, fingerprint)
);

CREATE TABLE tokens (
    id           TEXT PRIMARY KEY,
    user_id      TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    digest       TEXT NOT NULL UNIQUE,
    name         TEXT NOT NULL DEFAULT '',
    remote_addr  TEXT NOT NULL DEFAULT '',
    date_created TEXT NOT NULL,
    expires_at   TEXT NOT NULL,
    last_used    TEXT
);
CREATE INDEX tokens_user ON tokens (user_id);

CREATE TABLE login_logs (
    id          {{serial}},
    username    TEXT NOT NULL,
    user_id     TEXT NOT NULL DEFAULT '',
    type        TEXT NOT NULL,
    method      TEXT NOT NULL,
    ip          TEXT NOT NULL,
    user_agent  TEXT NOT NULL DEFAULT '',
    mfa         BOOLEAN NOT NULL DEFAULT FALSE,
    status      BOOLEAN NOT NULL,
    reason      TEXT NOT NULL DEFAULT '',
    datetime    TEXT NOT NULL
);
CREATE INDEX login_logs_datetime ON login_logs (datetime);
CREATE INDEX login_logs_username ON login_logs (username, datetime);

CREATE TABLE operate_logs (
    id            {{serial}},
    user_id       TEXT NOT NULL DEFAULT '',
    username      TEXT NOT NULL,
    action        TEXT NOT NULL,
    resource_type TEXT NOT NULL,
    resource_id   TEXT NOT NULL,
    resource      TEXT NOT NULL,
    diff          TEXT NOT NULL DEFAULT '{}',
    remote_addr   TEXT NOT NULL DEFAULT '',
    datetime      TEXT NOT NULL
);
CREATE INDEX operate_logs_datetime ON operate_logs (datetime);

CREATE TABLE platforms (
    id          BIGINT PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    category    TEXT NOT NULL,
    type        TEXT NOT NULL,
    protocols   TEXT NOT NULL,
    builtin     BOOLEAN NOT NULL DEFAULT FALSE,
    comment     TEXT NOT NULL DEFAULT ''
);

CREATE TABLE nodes (
    id           TEXT PRIMARY KEY,
    parent_id    TEXT REFERENCES nodes(id),
    name         TEXT NOT NULL,
    date_created TEXT NOT NULL,
    date_updated TEXT NOT NULL
);
CREATE INDEX nodes_parent ON nodes (parent_id);

CREATE TABLE assets (
    id           TEXT PRIMARY KEY,
    name         TEXT NOT NULL UNIQUE,
    ip           TEXT NOT NULL,
    platform_id  BIGINT NOT NULL REFERENCES platforms(id),
    protocols    TEXT NOT NULL,
    labels       TEXT NOT NULL DEFAULT '{}',
    is_active    BOOLEAN NOT NULL DEFAULT TRUE,
    comment      TEXT NOT NULL DEFAULT '',
    created_by   TEXT NOT NULL DEFAULT '',
    date_created TEXT NOT NULL,
    date_updated TEXT NOT NULL
);
CREATE INDEX assets_ip ON assets (ip);

CREATE TABLE asset_nodes (
    asset_id TEXT NOT NULL REFERENCES assets(id) ON DELETE CASCADE,
    node_id  TEXT NOT NULL REFERENCES nodes(id),
    PRIMARY KEY (asset_id, node_id)
);
CREATE INDEX asset_nodes_node ON asset_nodes (node_id);

CREATE TABLE system_users (
    id           TEXT PRIMARY KEY,
    name         TEXT NOT NULL UNIQUE,
    username     TEXT NOT NULL,
    protocol     TEXT NOT NULL,
    password     TEXT NOT NULL DEFAULT '',
    private_key  TEXT NOT NULL DEFAULT '',
    comment      TEXT NOT NULL DEFAULT '',
    created_by   TEXT NOT NULL DEFAULT '',
    date_created TEXT NOT NULL,
    date_updated TEXT NOT NULL
);

CREATE TABLE asset_permissions (
    id           TEXT PRIMARY KEY,
    name         TEXT NOT NULL UNIQUE,
    actions      TEXT NOT NULL,
    date_start   TEXT,
    date_expired TEXT,
    is_active    BOOLEAN NOT NULL DEFAULT TRUE,
    comment      TEXT NOT NULL DEFAULT '',
    created_by   TEXT NOT NULL DEFAULT '',
    date_created TEXT NOT NULL,
    date_updated TEXT NOT NULL
);

-- One membership table for every many-to-many of a permission: kind is
-- users, user_groups, assets, nodes or system_users. Member rows are kept
-- when the member is deleted elsewhere only until that delete cleans them.
CREATE TABLE asset_permission_members (
    perm_id   TEXT NOT NULL REFERENCES asset_permissions(id) ON DELETE CASCADE,
    kind      TEXT NOT NULL,
    member_id TEXT NOT NULL,
    PRIMARY KEY (perm_id, kind, member_id)
);
CREATE INDEX asset_permission_members_member ON asset_permission_members (kind, member_id);

CREATE TABLE sessions (
    id             TEXT PRIMARY KEY,
    user_id        TEXT NOT NULL,
    username       TEXT NOT NULL,
    asset_id       TEXT NOT NULL,
    asset          TEXT NOT NULL,
    system_user_id TEXT NOT NULL,
    system_user    TEXT NOT NULL,
    protocol       TEXT NOT NULL,
    login_from     TEXT NOT NULL,
    remote_addr    TEXT NOT NULL,
    start_time     TEXT NOT NULL,
    end_time       TEXT,
    is_finished    BOOLEAN NOT NULL DEFAULT FALSE,
    is_success     BOOLEAN NOT NULL DEFAULT TRUE,
    reason         TEXT NOT NULL DEFAULT '',
    terminated_by  TEXT NOT NULL DEFAULT '',
    has_replay     BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE INDEX sessions_start ON sessions (start_time);
CREATE INDEX sessions_user ON sessions (user_id, start_time);
