-- Text search over command lines without reading every row: a trigram
-- full-text index (FTS5) that answers case-insensitive substring LIKE, kept
-- in step with the commands table by triggers.

CREATE VIRTUAL TABLE commands_search USING fts5(input, content='commands', content_rowid='id', tokenize='trigram');
INSERT INTO commands_search (rowid, input) SELECT id, input FROM commands;
CREATE TRIGGER commands_search_insert AFTER INSERT ON commands BEGIN INSERT INTO commands_search (rowid, input) VALUES (new.id, new.input); END;
CREATE TRIGGER commands_search_delete AFTER DELETE ON commands BEGIN INSERT INTO commands_search (commands_search, rowid, input) VALUES ('delete', old.id, old.input); END;
CREATE TRIGGER commands_search_update AFTER UPDATE OF input ON commands BEGIN INSERT INTO commands_search (commands_search, rowid, input) VALUES ('delete', old.id, old.input); INSERT INTO commands_search (rowid, input) VALUES (new.id, new.input); END;
