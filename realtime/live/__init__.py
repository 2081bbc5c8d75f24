"""The live layer: pub/sub of encoded events to connected readers.

- `hub`: the in-process `Hub` (one process, the embedded default), `Message`, `Subscriber`
- `network_hub`: several processes as one hub over a pub/sub link (the shared logic)
- `redis_hub`: on Redis pub/sub; `postgres_hub`: on PostgreSQL's LISTEN/NOTIFY
- `reorder`: releases comment events in id order, whatever order they arrive in
- `backfill`: reads missed events back from the store
- `factory`: `make_hub`, the backend named by the configured URL

It knows the store and the models, never the service or the web layer.
"""
