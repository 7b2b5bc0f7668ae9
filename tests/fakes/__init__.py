"""Local fakes of third-party services for tests (loopback servers, no internet)."""
