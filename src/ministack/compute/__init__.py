"""Compute: Nova's API, conductor, scheduler, agent and virt drivers."""
