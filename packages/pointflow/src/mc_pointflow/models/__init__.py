"""Policies of mc-pointflow (one file per architecture)."""
