"""Tests of the verifier: location checks and inspection sampling."""
