"""Planes and lines of parameters: the grid job, its directions and their vectors."""
