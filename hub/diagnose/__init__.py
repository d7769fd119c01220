"""The hub's connectivity diagnosis (`hub.diagnose.run.diagnose`): each step from the broker's
name to the hospital's acknowledgement, the first failure named in one plain sentence."""
