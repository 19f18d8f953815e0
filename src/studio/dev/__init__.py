"""Development tools: `studio dev seed` fills a database with realistic data at scale
(docs/development.md)."""
