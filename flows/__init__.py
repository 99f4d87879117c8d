"""flows layer of the VideoLights pipeline."""
