"""Return-landscape experiments: the evaluate hot path, perturbations, PURD, stats."""
