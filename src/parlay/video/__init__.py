"""Media servers Parlay talks to for video calls (today: Janus, over its WebSocket API)."""
