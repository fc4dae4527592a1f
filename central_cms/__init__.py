"""The central CMS: staff UI, REST API, manifest compiler and publisher, ingest."""
