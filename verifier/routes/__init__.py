"""One APIRouter per resource: verify, trust, admin, requests, health."""
