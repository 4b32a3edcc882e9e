-- A table and a row whose text holds a semicolon; the statement splitter must keep it whole.
CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL);
INSERT INTO notes (id, body) VALUES (1, 'one; two');
