"""Project-wide pieces that belong to no single domain app: roles (groups) and the demo data of `make run`."""
