"""Reports: JUnit XML, HTML, results.json, and signed bundles."""
