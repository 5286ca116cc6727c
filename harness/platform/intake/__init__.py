"""What an upload goes through before anything is stored: size, zip structure, manifest and hashes,
signature by a key registered to the uploader's organisation, results.json against the schema."""
