"""A small shared base: the status wire form, spec parsing and the business calendar. Pure."""
