"""The hospital's operations: its CA and keys, enrolling and revoking hubs, signed downlink
configs, the fleet's status. See hub.hospital.layout for where it all lives."""
