"""A person's data on request: erase (and keep erased), export, and retention."""
