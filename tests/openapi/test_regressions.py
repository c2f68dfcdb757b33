"""Server errors that schemathesis and the fuzz tests found, each kept as a test."""

from __future__ import annotations

from conftest import TestClient


def test_an_id_too_large_for_the_database_is_not_found(client: TestClient) -> None:
    """Was a 500: the id reached the database, which cannot bind a number past 64 bits."""
    for path in ("/api/things/1577707241788747022336/track", "/api/alerts/99999999999999999999",
                 "/api/datastreams/99999999999999999999/series"):
        response = client.get(path)
        assert response.status_code == 404, (path, response.text)
        assert response.json()["code"] == "not_found"


def test_a_geojson_type_that_is_not_a_string_is_a_bad_request(client: TestClient) -> None:
    """Was a 500: an array or object as the GeoJSON "type" was looked up in a set."""
    for kind in (["Point"], {"a": 1}):
        response = client.post("/v1.1/FeaturesOfInterest", json={
            "name": "f", "description": "f", "encodingType": "application/geo+json",
            "feature": {"type": kind, "coordinates": [1, 2]}})
        assert response.status_code == 400, response.text
        assert "GeoJSON type" in response.json()["message"]
