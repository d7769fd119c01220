"""The contract between hub and hospital, pure: FHIR mapping, envelope codec, topic names,
ack and config messages. Both the hub's uplink and the hospital's receiver import it."""
