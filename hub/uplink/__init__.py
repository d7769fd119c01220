"""The hub's MQTT uplink: batches from the outbox, sealed envelopes, acks, downlink config."""
