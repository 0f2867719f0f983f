"""Adapters that let other frameworks call groundqa as one of their own parts (import each on use)."""
