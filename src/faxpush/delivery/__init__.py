"""Delivery: the HTTP client, auth flows, address guard, dispatcher and worker loop."""
