"""The hub's own identity: keys made on the hub, the enrollment request, the hospital's
response checked and imported, renewal. See hub.identity.files for where it all lives."""


class IdentityError(ValueError):
    """An identity operation that cannot go ahead; the text says why and what to do."""
