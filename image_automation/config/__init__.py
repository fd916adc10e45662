"""Configuration: pydantic models for native and Flux kinds (models.py, a leaf) and loading."""
