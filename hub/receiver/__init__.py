"""The hospital-side ingest service: verify, decrypt, de-duplicate, store, then ack.

Imports the wire contract and the model only — never the hub's store."""
