"""OpenHarmony's real hdc peers for the lab and the tests: the build into a cache (build), the private
hdc server (server) and hdcd inside a device's own namespaces (daemon)."""
