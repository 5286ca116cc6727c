"""The JSON API: bearer tokens, the same services and the same authorisation as the pages."""
