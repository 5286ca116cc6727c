"""The device sandbox: a persona's root folder laid out on the host, and real shells run in private
namespaces over it."""
