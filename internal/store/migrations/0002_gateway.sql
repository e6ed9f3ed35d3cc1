-- Gateway: target host keys pinned on first use. One key per address: a
-- later connection asks the target for that key's type only, so a
-- different key type cannot slip past the pin.

CREATE TABLE host_keys (
    asset_id    TEXT NOT NULL,
    address     TEXT NOT NULL,
    key_type    TEXT NOT NULL,
    key         TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    first_seen  TEXT NOT NULL,
    PRIMARY KEY (asset_id, address)
);
