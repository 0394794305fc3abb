"""The resource API: pydantic models of every custom resource, the single source of truth for the CRDs."""
