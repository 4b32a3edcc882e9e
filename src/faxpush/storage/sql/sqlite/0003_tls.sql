-- TLS material of an account (its push URL and token URL), copied into each push:
-- CA certificates trusted besides the system's (PEM), and a client certificate (PEM) with
-- its private key for mutual TLS. The key is Fernet ciphertext like every other credential.
-- NULL for the accounts and pushes without any (the usual case): their rows do not grow.

ALTER TABLE accounts ADD COLUMN push_ca_pem TEXT;
ALTER TABLE accounts ADD COLUMN push_client_cert TEXT;
ALTER TABLE accounts ADD COLUMN push_client_key BLOB;

ALTER TABLE pushes ADD COLUMN target_ca_pem TEXT;
ALTER TABLE pushes ADD COLUMN target_client_cert TEXT;
ALTER TABLE pushes ADD COLUMN target_client_key BLOB;
