"""The terminal UI (`hub ui`): the patient's status screen and, later, the technician's app.

It reaches the daemon only through the control socket (`client`); every text a person reads
comes from the gettext catalogues under `locale/` (`i18n`). The decisions are pure modules
(`statements`: status → plain statements; `prompts`: which spoken prompts are new); the
Textual app (`status_app`) and the speaker (`speech`) are the edges.
"""
