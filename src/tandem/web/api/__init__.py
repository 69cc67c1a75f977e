"""The JSON API (MG-5): everything the pages do, described at /api/openapi.json."""
