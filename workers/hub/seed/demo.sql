-- Demo directory for the local stack (`npm start`). Safe to apply repeatedly.
INSERT OR IGNORE INTO domains (name) VALUES ('example.com');
INSERT OR IGNORE INTO recipients (address, domain) VALUES ('alice@example.com', 'example.com');
INSERT OR IGNORE INTO recipients (address, domain) VALUES ('bob@example.com', 'example.com');
