"""The web layer, and the only package that imports Starlette or uvicorn.

- `app`: `create_app(settings)`, error rendering, the lifespan that builds the store and the hub
- `http`: the JSON API
- `ws`: the WebSocket endpoints (article threads, counts, the moderators' queue)
- `server`: uvicorn set up for fan-out, with the direct, non-blocking socket the hub writes to
- `openapi`: `/openapi.json` from the msgspec Structs and the operation tables in
  `openapi_public` and `openapi_admin`
- `metrics`: `/metrics` (Prometheus) and the request timing middleware
"""
